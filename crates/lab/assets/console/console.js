// The authlab console's script: draws each snapshot the server sends over
// Server-Sent Events, and turns button clicks into POST /api/control.
// Hand-written, no build step, no dependencies; every text it shows goes in
// through textContent, never as markup.
"use strict";

(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const $ = (id) => document.getElementById(id);
  const fmt = (value, digits, unit) =>
    value === null || value === undefined ? "–" : value.toFixed(digits) + (unit || "");

  function setText(id, text) {
    const element = $(id);
    if (element && element.textContent !== text) element.textContent = text;
  }

  // ----- charts: one SVG path per series, gaps where a second had no requests -----

  function pathOf(points, value, max) {
    const step = 300 / Math.max(points.length - 1, 1);
    let d = "";
    let pen = false;
    points.forEach((point, i) => {
      const v = value(point);
      if (v === null || v === undefined) {
        pen = false;
        return;
      }
      const y = 100 - (Math.min(v, max) / max) * 96 - 2;
      d += (pen ? "L" : "M") + (i * step).toFixed(1) + " " + y.toFixed(1) + " ";
      pen = true;
    });
    return d.trim();
  }

  function niceCeiling(value) {
    const steps = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000];
    return steps.find((s) => s >= value) || value;
  }

  // A node that appeared after the page was rendered (compose replicas).
  function nodeRow(stack, name) {
    const table = document.querySelector('table.nodes[data-stack="' + stack + '"]');
    if (!table) return null;
    const row = element("tr");
    row.id = "node-" + name;
    row.dataset.node = name;
    row.append(element("th", "", name), element("td", "state", "…"), element("td", "rps", "…"));
    const buttons = element("td", "buttons");
    [
      ["node-kill", table.dataset.killLabel],
      ["node-restart", table.dataset.restartLabel],
      ["node-drain", "Drain"],
      ["node-ready", "Ready"],
    ].forEach(([action, label]) => {
      const button = element("button", "", label);
      button.type = "button";
      button.dataset.action = action;
      button.dataset.node = name;
      buttons.append(button, " ");
    });
    row.append(buttons);
    table.querySelector("tbody").append(row);
    return row;
  }

  function drawStack(view) {
    const id = view.stack;
    const health = $(id + "-health");
    if (health) {
      health.dataset.health = view.health;
      health.textContent = view.health.toUpperCase();
    }
    setText(id + "-success", fmt(view.window.success_pct, 1, " %"));
    setText(id + "-p50", fmt(view.window.p50_ms, 1, " ms"));
    setText(id + "-p99", fmt(view.window.p99_ms, 1, " ms"));
    setText(id + "-failed", view.recent.failed + " of " + view.recent.requests);
    setText(
      id + "-failures",
      view.window.failures.length
        ? "failures in the last " + view.window.seconds + " s: " + view.window.failures.map(([label, n]) => n + " × " + label).join(", ")
        : ""
    );
    const success = $(id + "-chart-success");
    if (success) {
      success.querySelector("path.ok").setAttribute("d", pathOf(view.series, (p) => p.success_pct, 100));
    }
    const latency = $(id + "-chart-latency");
    if (latency) {
      const highest = Math.max(1, ...view.series.map((p) => p.p99_ms || 0));
      const max = niceCeiling(highest);
      latency.querySelector("path.p50").setAttribute("d", pathOf(view.series, (p) => p.p50_ms, max));
      latency.querySelector("path.p99").setAttribute("d", pathOf(view.series, (p) => p.p99_ms, max));
      setText(id + "-latency-max", String(max));
    }
    const seen = new Set(view.nodes.map((node) => node.name));
    document.querySelectorAll('table.nodes[data-stack="' + id + '"] tbody tr').forEach((row) => {
      row.hidden = !seen.has(row.dataset.node);
    });
    view.nodes.forEach((node) => {
      const row = $("node-" + node.name) || nodeRow(id, node.name);
      if (!row) return;
      const state = row.querySelector("td.state");
      state.textContent = node.state;
      state.dataset.state = node.state.split(" ")[0].toLowerCase();
      row.querySelector("td.rps").textContent = fmt(node.rps, 1);
    });
  }

  function drawStore(store) {
    if (!store || !$("store")) return;
    const reading = store.reading;
    const word = reading.reachability.replace("-", " ");
    setText("store-reading", word + (reading.detail ? " (" + reading.detail + ")" : ""));
    const health = $("store-health");
    health.dataset.health = reading.reachability === "up" ? "serving" : "failing";
    health.textContent = word.toUpperCase();
    setText("store-control", store.control);
    setText("store-latency", store.latency_ms.toFixed(0) + " ms");
    setText(
      "store-keys",
      reading.keys.length ? reading.keys.map((k) => k.keys + " (" + k.holds + ")").join(", ") : "–"
    );
    setText("store-memory", reading.used_memory || "–");
  }

  function element(tag, className, text) {
    const e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function drawPerson(view) {
    const holder = document.querySelector('.credentials[data-person="' + view.person + '"]');
    const counters = document.querySelector('tbody[data-person="' + view.person + '"]');
    if (!holder || !counters) return;
    holder.replaceChildren(
      ...view.credentials.map((c) => {
        const box = element("div", "credential");
        box.dataset.stack = c.stack;
        box.append(element("h4", "", c.stack + " stack: " + c.kind + ", " + c.bytes + " bytes"));
        box.append(element("div", "value", c.shown));
        if (c.seconds_left !== null && c.seconds_left !== undefined) {
          box.append(element("p", "", c.seconds_left > 0 ? "expires in " + c.seconds_left + " s" : "expired"));
        }
        if (c.decoded) {
          const header = c.decoded.header;
          box.append(element("p", "", "signed with " + header.alg + (header.kid ? ", key " + header.kid : "")));
          box.append(element("p", "", "payload, decoded by anyone, no key needed:"));
          box.append(element("pre", "", JSON.stringify(c.decoded.payload, null, 1)));
        } else {
          box.append(element("p", "", "an opaque id: it means something only to the store"));
        }
        return box;
      }),
      ...view.login_failures.map(([stack, reason]) => element("p", "failures", stack + ": " + reason))
    );
    counters.replaceChildren(
      ...view.nodes.map((n) => {
        const row = element("tr");
        row.dataset.node = n.node;
        row.dataset.stack = n.stack;
        row.append(element("th", "", n.node));
        const cell = element("td", "counter", n.label);
        cell.dataset.access = n.access ? n.access.kind : "unknown";
        row.append(cell);
        return row;
      })
    );
  }

  function drawLog(lines) {
    const list = $("log-lines");
    list.replaceChildren(
      ...lines.map((line) => {
        const item = element("li", "", "[" + line.at_s + " s] " + line.action + ": " + line.message);
        item.dataset.ok = line.ok;
        return item;
      })
    );
  }

  function draw(snapshot) {
    snapshot.stacks.forEach(drawStack);
    drawStore(snapshot.store);
    snapshot.people.forEach(drawPerson);
    drawLog(snapshot.log);
    if (snapshot.load) {
      const load = snapshot.load;
      setText(
        "load-state",
        load.running
          ? "running, " + load.settings.users + " users per stack at " + load.settings.rate + " req/s each"
          : "stopped"
      );
    }
    if (snapshot.revocation) setText("revocation", snapshot.revocation);
    document.body.dataset.seq = snapshot.seq;
  }

  // ----- controls -----

  async function send(body, button) {
    const result = $("result");
    if (button) button.setAttribute("aria-busy", "true");
    try {
      const response = await fetch("/api/control", {
        method: "POST",
        headers: { "content-type": "application/json", "x-csrf-token": csrf },
        body: JSON.stringify(body),
      });
      const answer = await response.json().catch(() => ({ message: response.statusText }));
      result.dataset.ok = response.ok;
      result.textContent = answer.message || response.status;
    } catch (error) {
      result.dataset.ok = false;
      result.textContent = "the console did not answer: " + error;
    } finally {
      if (button) button.removeAttribute("aria-busy");
    }
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    event.preventDefault();
    const body = { action: button.dataset.action };
    if (button.dataset.node) body.node = button.dataset.node;
    if (button.dataset.ms) body.ms = Number(button.dataset.ms);
    if (button.dataset.mode) body.mode = button.dataset.mode;
    send(body, button);
  });

  $("load-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.target;
    send(
      { action: "load-start", users: Number(form.users.value), rate: Number(form.rate.value) },
      $("load-start")
    );
  });

  // ----- the live feed -----

  try {
    draw(JSON.parse($("initial").textContent));
  } catch (error) {
    // The first event replaces it within a second.
  }
  const connection = $("connection");
  const events = new EventSource("/api/events");
  events.onopen = () => {
    connection.dataset.state = "live";
    connection.textContent = "LIVE";
  };
  events.onerror = () => {
    connection.dataset.state = "lost";
    connection.textContent = "RECONNECTING";
  };
  events.onmessage = (message) => draw(JSON.parse(message.data));
})();
