//! Function lengths: every `fn` item and method outside test code, from its
//! `fn` keyword to its closing brace, nested functions counted on their own.

use syn::visit::Visit;

use crate::sources::File;

pub struct Long {
    pub file: String,
    pub line: usize,
    pub name: String,
    pub lines: usize,
}

/// The non-test functions of `file` longer than `limit` lines.
pub fn over(file: &File, limit: usize) -> anyhow::Result<Vec<Long>> {
    let ast = syn::parse_file(&file.text).map_err(|e| anyhow::anyhow!("{}: {e}", file.path))?;
    let mut visitor = Lengths {
        file: &file.path,
        limit,
        owner: Vec::new(),
        found: Vec::new(),
    };
    visitor.visit_file(&ast);
    Ok(visitor.found)
}

/// `#[test]`, `#[tokio::test]`, `#[cfg(test)]` and the like.
pub fn is_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        let path = a.path();
        let last = path.segments.last().map(|s| s.ident.to_string());
        if matches!(last.as_deref(), Some("test" | "bench")) {
            return true;
        }
        path.is_ident("cfg")
            && a.parse_args::<syn::Meta>()
                .is_ok_and(|m| m.path().is_ident("test"))
    })
}

struct Lengths<'a> {
    file: &'a str,
    limit: usize,
    /// The `impl` or trait a method belongs to, for its printed name.
    owner: Vec<String>,
    found: Vec<Long>,
}

impl Lengths<'_> {
    fn measure(&mut self, name: &syn::Ident, sig: &syn::Signature, end: proc_macro2::Span) {
        let start = sig.fn_token.span.start().line;
        let lines = end.end().line + 1 - start;
        if lines > self.limit {
            let name = match self.owner.last() {
                Some(owner) => format!("{owner}::{name}"),
                None => name.to_string(),
            };
            self.found.push(Long {
                file: self.file.to_string(),
                line: start,
                name,
                lines,
            });
        }
    }
}

impl<'ast> Visit<'ast> for Lengths<'_> {
    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        if !is_test(&m.attrs) {
            syn::visit::visit_item_mod(self, m);
        }
    }

    fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
        if is_test(&f.attrs) {
            return;
        }
        self.measure(&f.sig.ident, &f.sig, f.block.brace_token.span.close());
        syn::visit::visit_item_fn(self, f);
    }

    fn visit_item_impl(&mut self, i: &'ast syn::ItemImpl) {
        if is_test(&i.attrs) {
            return;
        }
        let ty = &i.self_ty;
        self.owner.push(quote_type(ty));
        syn::visit::visit_item_impl(self, i);
        self.owner.pop();
    }

    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        if is_test(&f.attrs) {
            return;
        }
        self.measure(&f.sig.ident, &f.sig, f.block.brace_token.span.close());
        syn::visit::visit_impl_item_fn(self, f);
    }

    fn visit_item_trait(&mut self, t: &'ast syn::ItemTrait) {
        self.owner.push(t.ident.to_string());
        syn::visit::visit_item_trait(self, t);
        self.owner.pop();
    }

    fn visit_trait_item_fn(&mut self, f: &'ast syn::TraitItemFn) {
        if let Some(block) = &f.default {
            self.measure(&f.sig.ident, &f.sig, block.brace_token.span.close());
        }
        syn::visit::visit_trait_item_fn(self, f);
    }
}

/// The last path segment of an impl's type: `Cluster` for `impl Cluster`.
fn quote_type(ty: &syn::Type) -> String {
    match ty {
        syn::Type::Path(p) => p
            .path
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .unwrap_or_default(),
        _ => "_".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::Role;

    fn file(text: &str) -> File {
        File {
            path: "x.rs".into(),
            in_src: None,
            role: Role::Source,
            text: text.into(),
        }
    }

    fn body(lines: usize) -> String {
        "    let _ = 1;\n".repeat(lines)
    }

    #[test]
    fn counts_from_the_fn_keyword_to_the_closing_brace_and_skips_tests() {
        let text = format!(
            "/// doc\nfn long() {{\n{}}}\nfn short() {{}}\nimpl S {{\n    fn method() {{\n{}    }}\n}}\n\
             #[test]\nfn a_test() {{\n{}}}\n#[cfg(test)]\nmod tests {{\n    fn helper() {{\n{}    }}\n}}\n",
            body(10),
            body(11),
            body(50),
            body(50)
        );
        let found = over(&file(&text), 5).unwrap();
        let names: Vec<(&str, usize)> = found.iter().map(|f| (f.name.as_str(), f.lines)).collect();
        assert_eq!(names, [("long", 12), ("S::method", 13)]);
        assert_eq!(found[0].line, 2);
    }
}
