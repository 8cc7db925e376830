//! Import cycles among one crate's modules, file by file.
//!
//! Two files are in a cycle when each one, by a chain of `use` items and
//! paths, reaches something the other defines. Paths are followed through
//! re-exports (`pub use`), which are a facade and no dependency of their own,
//! so `crate::LabError` is an edge to the file that defines `LabError`, not
//! to `lib.rs`. Declaring a module (`mod x;`) is not an edge; test code is
//! not read. Paths written inside macros are not seen.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap, VecDeque},
    path::{Path, PathBuf},
};

use syn::visit::Visit;

use crate::{functions::is_test, sources::Crate};

type ModId = usize;

struct Module {
    file: String,
    path: Vec<String>,
    parent: Option<ModId>,
    children: BTreeMap<String, ModId>,
    /// Names brought in by `use`, as written (relative to this module).
    aliases: HashMap<String, Vec<String>>,
    /// Paths this module's own code names, as written.
    refs: Vec<Vec<String>>,
}

/// Each cycle as a path of files that returns to its start.
pub fn cycles(krate: &Crate) -> anyhow::Result<Vec<Vec<String>>> {
    let texts: HashMap<PathBuf, (&str, &str)> = krate
        .files
        .iter()
        .filter_map(|f| Some((f.in_src.clone()?, (f.path.as_str(), f.text.as_str()))))
        .collect();
    let mut found = Vec::new();
    for root in ["lib.rs", "main.rs"] {
        let Some(&(path, text)) = texts.get(Path::new(root)) else {
            continue;
        };
        let mut tree = Tree::default();
        let ast = syn::parse_file(text).map_err(|e| anyhow::anyhow!("{path}: {e}"))?;
        tree.load(&texts, None, String::new(), path, Path::new(""), &ast.items)?;
        found.extend(tree.cycles());
    }
    Ok(found)
}

#[derive(Default)]
struct Tree {
    modules: Vec<Module>,
}

impl Tree {
    fn load(
        &mut self,
        texts: &HashMap<PathBuf, (&str, &str)>,
        parent: Option<ModId>,
        name: String,
        file: &str,
        dir: &Path,
        items: &[syn::Item],
    ) -> anyhow::Result<ModId> {
        let mut path = parent
            .map(|p| self.modules[p].path.clone())
            .unwrap_or_default();
        if parent.is_some() {
            path.push(name.clone());
        }
        let id = self.modules.len();
        self.modules.push(Module {
            file: file.to_string(),
            path,
            parent,
            children: BTreeMap::new(),
            aliases: HashMap::new(),
            refs: Vec::new(),
        });
        if let Some(p) = parent {
            self.modules[p].children.insert(name, id);
        }
        let mut collector = Refs::default();
        for item in items {
            match item {
                syn::Item::Mod(m) if is_test(&m.attrs) => {}
                syn::Item::Mod(m) => {
                    let child = m.ident.to_string();
                    let child_dir = dir.join(&child);
                    match &m.content {
                        Some((_, inner)) => {
                            self.load(texts, Some(id), child, file, &child_dir, inner)?;
                        }
                        None => {
                            let candidates =
                                [dir.join(format!("{child}.rs")), child_dir.join("mod.rs")];
                            let Some((path, text)) =
                                candidates.iter().find_map(|c| texts.get(c).copied())
                            else {
                                anyhow::bail!("{file}: no file for `mod {child};`");
                            };
                            let ast = syn::parse_file(text)
                                .map_err(|e| anyhow::anyhow!("{path}: {e}"))?;
                            self.load(texts, Some(id), child, path, &child_dir, &ast.items)?;
                        }
                    }
                }
                syn::Item::Use(u) => {
                    let mut flat = Vec::new();
                    flatten(&u.tree, Vec::new(), &mut flat);
                    let facade = !matches!(u.vis, syn::Visibility::Inherited);
                    for (segments, name) in flat {
                        if !facade {
                            collector.found.push(segments.clone());
                        }
                        if let Some(name) = name {
                            self.modules[id].aliases.insert(name, segments);
                        }
                    }
                }
                other => collector.visit_item(other),
            }
        }
        self.modules[id].refs = collector.found;
        Ok(id)
    }

    /// The absolute module path a written path starts from, or `None` for a
    /// path outside the crate (std, a dependency, a local name).
    fn absolute(&self, from: ModId, written: &[String], depth: usize) -> Option<Vec<String>> {
        let module = &self.modules[from];
        let first = written.first()?;
        let (mut base, rest) = match first.as_str() {
            "crate" => (Vec::new(), &written[1..]),
            "self" => (module.path.clone(), &written[1..]),
            "super" => {
                let mut at = from;
                let mut rest = written;
                while rest.first().is_some_and(|s| s == "super") {
                    at = self.modules[at].parent?;
                    rest = &rest[1..];
                }
                (self.modules[at].path.clone(), rest)
            }
            name if module.children.contains_key(name) => (module.path.clone(), written),
            name => {
                let target = module.aliases.get(name)?;
                if depth > 8 || target.as_slice() == written {
                    return None;
                }
                let mut base = self.absolute(from, target, depth + 1)?;
                base.extend_from_slice(&written[1..]);
                return Some(base);
            }
        };
        base.extend_from_slice(rest);
        Some(base)
    }

    /// The module that defines what an absolute path names.
    fn resolve(&self, path: &[String], depth: usize) -> ModId {
        let mut at = 0;
        for (i, segment) in path.iter().enumerate() {
            if let Some(&child) = self.modules[at].children.get(segment) {
                at = child;
                continue;
            }
            if depth < 8 {
                let via = self.modules[at].aliases.get(segment).cloned();
                if let Some(target) = via.and_then(|t| self.absolute(at, &t, depth + 1)) {
                    let mut next = target;
                    next.extend_from_slice(&path[i + 1..]);
                    return self.resolve(&next, depth + 1);
                }
            }
            break;
        }
        at
    }

    fn edges(&self) -> BTreeMap<String, BTreeSet<String>> {
        let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (id, module) in self.modules.iter().enumerate() {
            let entry = edges.entry(module.file.clone()).or_default();
            for written in &module.refs {
                if let Some(path) = self.absolute(id, written, 0) {
                    let target = &self.modules[self.resolve(&path, 0)].file;
                    if target != &module.file {
                        entry.insert(target.clone());
                    }
                }
            }
        }
        edges
    }

    fn cycles(&self) -> Vec<Vec<String>> {
        let edges = self.edges();
        strongly_connected(&edges)
            .into_iter()
            .filter(|scc| scc.len() > 1)
            .filter_map(|scc| shortest_cycle(&edges, &scc))
            .collect()
    }
}

/// `use a::{b, c as d, e::*}` as `(path, name it binds)`; a glob binds none.
fn flatten(tree: &syn::UseTree, prefix: Vec<String>, out: &mut Vec<(Vec<String>, Option<String>)>) {
    match tree {
        syn::UseTree::Path(p) => {
            let mut next = prefix;
            next.push(p.ident.to_string());
            flatten(&p.tree, next, out);
        }
        syn::UseTree::Name(n) => {
            let name = n.ident.to_string();
            let mut path = prefix;
            if name != "self" {
                path.push(name.clone());
            }
            let bound = path.last().cloned();
            out.push((path, bound));
        }
        syn::UseTree::Rename(r) => {
            let mut path = prefix;
            if r.ident != "self" {
                path.push(r.ident.to_string());
            }
            out.push((path, Some(r.rename.to_string())));
        }
        syn::UseTree::Glob(_) => out.push((prefix, None)),
        syn::UseTree::Group(g) => {
            for item in &g.items {
                flatten(item, prefix.clone(), out);
            }
        }
    }
}

/// Every path in one module's items, not descending into nested modules or
/// test code.
#[derive(Default)]
struct Refs {
    found: Vec<Vec<String>>,
}

impl<'ast> Visit<'ast> for Refs {
    fn visit_item_mod(&mut self, _: &'ast syn::ItemMod) {}

    fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
        if !is_test(&f.attrs) {
            syn::visit::visit_item_fn(self, f);
        }
    }

    fn visit_item_impl(&mut self, i: &'ast syn::ItemImpl) {
        if !is_test(&i.attrs) {
            syn::visit::visit_item_impl(self, i);
        }
    }

    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        // A `use` inside a function body.
        let mut flat = Vec::new();
        flatten(&u.tree, Vec::new(), &mut flat);
        self.found.extend(flat.into_iter().map(|(p, _)| p));
    }

    // `pub(super)` names the parent module but depends on nothing in it.
    fn visit_visibility(&mut self, _: &'ast syn::Visibility) {}

    fn visit_path(&mut self, p: &'ast syn::Path) {
        self.found
            .push(p.segments.iter().map(|s| s.ident.to_string()).collect());
        syn::visit::visit_path(self, p);
    }
}

/// Tarjan's strongly connected components.
fn strongly_connected(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'a> {
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        index: HashMap<&'a str, usize>,
        low: HashMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        let i = s.index.len();
        s.index.insert(v, i);
        s.low.insert(v, i);
        s.stack.push(v);
        s.on_stack.insert(v);
        let edges = s.edges;
        for w in edges.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut scc = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                scc.push(w.to_string());
                if w == v {
                    break;
                }
            }
            s.out.push(scc);
        }
    }
    let mut state = State {
        edges,
        index: HashMap::new(),
        low: HashMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in edges.keys() {
        if !state.index.contains_key(v.as_str()) {
            visit(&mut state, v);
        }
    }
    state.out
}

/// The shortest way from the component's first file back to itself.
fn shortest_cycle(
    edges: &BTreeMap<String, BTreeSet<String>>,
    scc: &[String],
) -> Option<Vec<String>> {
    let members: BTreeSet<&str> = scc.iter().map(String::as_str).collect();
    let start = *members.iter().next()?;
    let mut came_from: HashMap<&str, &str> = HashMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(v) = queue.pop_front() {
        for w in edges.get(v).into_iter().flatten().map(String::as_str) {
            if !members.contains(w) {
                continue;
            }
            if w == start {
                let mut back = vec![v];
                while let Some(&prev) = back.last().and_then(|at| came_from.get(at)) {
                    back.push(prev);
                }
                let mut path: Vec<String> = back.iter().rev().map(|s| s.to_string()).collect();
                if path.first().map(String::as_str) != Some(start) {
                    path.insert(0, start.to_string());
                }
                path.push(start.to_string());
                return Some(path);
            }
            if !came_from.contains_key(w) {
                came_from.insert(w, v);
                queue.push_back(w);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::{File, Role};

    fn krate(files: &[(&str, &str)]) -> Crate {
        Crate {
            name: "t".into(),
            files: files
                .iter()
                .map(|(path, text)| File {
                    path: format!("src/{path}"),
                    in_src: Some(PathBuf::from(path)),
                    role: Role::Source,
                    text: text.to_string(),
                })
                .collect(),
        }
    }

    #[test]
    fn two_modules_that_use_each_other_are_a_cycle() {
        let c = krate(&[
            ("lib.rs", "mod a;\nmod b;\n"),
            ("a.rs", "use crate::b::B;\npub struct A;\n"),
            ("b.rs", "pub struct B(crate::a::A);\n"),
        ]);
        assert_eq!(
            cycles(&c).unwrap(),
            [vec!["src/a.rs", "src/b.rs", "src/a.rs"]]
        );
    }

    #[test]
    fn a_re_export_is_followed_not_counted() {
        // lib.rs re-exports b's type and declares a; a names it through the
        // facade, b names a: no cycle through lib.rs, and none between a and
        // b unless a's path leads to b.
        let c = krate(&[
            ("lib.rs", "mod a;\nmod b;\npub use b::B;\n"),
            ("a.rs", "pub struct A;\n"),
            ("b.rs", "use crate::a::A;\npub struct B(A);\n"),
        ]);
        assert!(cycles(&c).unwrap().is_empty());
        let looped = krate(&[
            ("lib.rs", "mod a;\nmod b;\npub use b::B;\n"),
            ("a.rs", "pub struct A(crate::B);\n"),
            ("b.rs", "use crate::a::A;\npub struct B(A);\n"),
        ]);
        assert_eq!(cycles(&looped).unwrap().len(), 1);
    }

    #[test]
    fn a_parent_and_its_children_cycle_through_super_but_tests_do_not_count() {
        let c = krate(&[
            ("lib.rs", "mod m;\n"),
            (
                "m/mod.rs",
                "mod child;\npub struct Framework;\npub fn all() { child::run(); }\n",
            ),
            ("m/child.rs", "use super::Framework;\npub fn run() {}\n"),
        ]);
        assert_eq!(cycles(&c).unwrap().len(), 1);
        let only_tests = krate(&[
            ("lib.rs", "mod m;\n"),
            ("m/mod.rs", "mod child;\npub struct Framework;\n#[cfg(test)]\nmod tests { fn t() { super::child::run(); } }\n"),
            ("m/child.rs", "use super::Framework;\npub fn run() {}\n"),
        ]);
        assert!(cycles(&only_tests).unwrap().is_empty());
        let visibility_only = krate(&[
            ("lib.rs", "mod m;\n"),
            ("m/mod.rs", "mod child;\npub fn all() { child::run(); }\n"),
            (
                "m/child.rs",
                "pub(super) fn run() {}\npub(in crate::m) struct S;\n",
            ),
        ]);
        assert!(cycles(&visibility_only).unwrap().is_empty());
    }
}
