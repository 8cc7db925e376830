//! The page: HTML rendered on the server from a template, a small script
//! that keeps it live, a style sheet. No build step and nothing fetched from
//! elsewhere: a teacher needs `authlab` and a browser, nothing else.

use std::{collections::BTreeMap, sync::OnceLock};

use minijinja::{context, Environment, Value};
use serde::Serialize;

use super::{
    controls::{ControlInfo, CONTROLS, STORE_LATENCIES_MS},
    load::{LoadSettings, MAX_RATE, MAX_USERS},
    state::Shared,
};
use crate::Stack;

const TEMPLATE: &str = include_str!("../../templates/console.html.j2");
pub(super) const SCRIPT: &str = include_str!("../../assets/console/console.js");
pub(super) const STYLE: &str = include_str!("../../assets/console/console.css");

#[derive(Serialize)]
struct ControlView {
    #[serde(flatten)]
    info: ControlInfo,
    link: Option<String>,
}

#[derive(Serialize)]
struct StackPanel {
    id: &'static str,
    title: &'static str,
    explain: &'static str,
    nodes: Vec<String>,
}

fn panel(stack: Stack, nodes: Vec<String>) -> StackPanel {
    match stack {
        Stack::Session => StackPanel {
            id: "session",
            title: "Session stack",
            explain: "An opaque cookie; every node looks the session up in the shared store on every request.",
            nodes,
        },
        Stack::Jwt => StackPanel {
            id: "jwt",
            title: "JWT stack",
            explain: "A signed token; every node checks the signature alone and asks no one.",
            nodes,
        },
    }
}

/// JSON made fit to sit inside a `<script type="application/json">`
/// element: nothing in it can close the element or open a comment, and it
/// still parses to the same value.
fn embeddable_json(json: &str) -> String {
    json.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// The template, parsed once for every page served.
fn environment() -> Result<&'static Environment<'static>, minijinja::Error> {
    static ENVIRONMENT: OnceLock<Environment<'static>> = OnceLock::new();
    if let Some(env) = ENVIRONMENT.get() {
        return Ok(env);
    }
    let mut env = Environment::new();
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.add_template("console.html", TEMPLATE)?;
    Ok(ENVIRONMENT.get_or_init(|| env))
}

/// The whole page, with the latest snapshot (`snapshot_json`) already in it
/// (the script takes over from there).
pub(super) fn render(shared: &Shared, snapshot_json: &str) -> Result<String, minijinja::Error> {
    let controls: BTreeMap<&str, ControlView> = CONTROLS
        .iter()
        .map(|info| {
            (
                info.action,
                ControlView {
                    info: info.clone(),
                    link: shared.report.link(info.claim),
                },
            )
        })
        .collect();
    let stacks: Vec<StackPanel> = shared
        .facts
        .frontends
        .iter()
        .map(|(stack, _)| {
            panel(
                *stack,
                shared
                    .nodes()
                    .iter()
                    .filter(|n| n.stack == *stack)
                    .map(|n| n.name.clone())
                    .collect(),
            )
        })
        .collect();
    let defaults = LoadSettings::default();
    environment()?
        .get_template("console.html")?
        .render(context! {
            csrf => &shared.csrf,
            stacks => stacks,
            has_jwt => shared.facts.has(Stack::Jwt),
            compose => shared.facts.compose,
            pause_s => super::compose::PAUSE.as_secs(),
            controls => controls,
            latencies => STORE_LATENCIES_MS,
            recent => super::window::RECENT,
            span => super::window::SPAN,
            max_users => MAX_USERS.min(shared.facts.seeded_users),
            max_rate => MAX_RATE,
            default_users => defaults.users.min(shared.facts.seeded_users),
            default_rate => defaults.rate,
            report => shared.report.link("C1").is_some(),
            initial => Value::from_safe_string(embeddable_json(snapshot_json)),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_json_cannot_close_its_script_element() {
        let json = embeddable_json(&serde_json::json!({"x": "</script><!--"}).to_string());
        assert!(!json.contains('<'));
        let back: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(back["x"], "</script><!--");
    }
}
