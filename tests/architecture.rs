//! The crate's shape, checked against the code: the module map in src/lib.rs names what
//! each module may use, and no workstation file grows past what one reader can hold.

#![allow(clippy::unwrap_used)]
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every .rs file under `dir` (recursively).
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The map's bullets, in order: (module, the bullet's text after the name).
fn bullets() -> Vec<(String, String)> {
    let lib = std::fs::read_to_string(root().join("src/lib.rs")).unwrap();
    let mut out: Vec<(String, String)> = Vec::new();
    for line in lib.lines() {
        if let Some(rest) = line.strip_prefix("//! - [`") {
            let (name, rest) = rest.split_once("`]").unwrap();
            out.push((name.to_string(), rest.to_string()));
        } else if let Some(more) = line.strip_prefix("//!   ")
            && let Some(last) = out.last_mut()
        {
            last.1.push(' ');
            last.1.push_str(more);
        }
    }
    out
}

/// The map: module -> the modules it may use (None: anything listed before it).
fn module_map() -> BTreeMap<String, Option<BTreeSet<String>>> {
    let mut map = BTreeMap::new();
    for (name, rest) in bullets() {
        let uses = rest
            .trim_start()
            .strip_prefix("(uses ")
            .unwrap_or_else(|| panic!("the map's line for {name} does not say what it uses"));
        let uses = &uses[..uses.find(')').unwrap()];
        let allowed = match uses {
            "nothing" => Some(BTreeSet::new()),
            "anything above" => None,
            list => Some(
                list.split_whitespace()
                    .map(|m| m.trim_matches('`').to_string())
                    .collect(),
            ),
        };
        map.insert(name, allowed);
    }
    map
}

/// The top-level modules a file refers to with `crate::NAME` (macros aside).
fn crate_refs(src: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in src.match_indices("crate::") {
        // `$crate::` in a macro is the crate itself.
        if i > 0 && src.as_bytes()[i - 1] == b'$' {
            continue;
        }
        let rest = &src[i + "crate::".len()..];
        assert!(
            !rest.starts_with('{'),
            "write `use crate::a::b;` one module per line (the architecture test reads them)"
        );
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let is_macro = rest[name.len()..].starts_with('!');
        if !name.is_empty() && !is_macro {
            out.insert(name);
        }
    }
    out
}

#[test]
fn every_module_uses_only_what_the_module_map_allows() {
    let map = module_map();
    let lib = std::fs::read_to_string(root().join("src/lib.rs")).unwrap();
    let declared: BTreeSet<String> = lib
        .lines()
        .filter_map(|l| l.strip_prefix("pub mod "))
        .map(|l| l.trim_end_matches(';').to_string())
        .collect();
    let mapped: BTreeSet<String> = map.keys().cloned().collect();
    assert_eq!(declared, mapped, "src/lib.rs: modules vs the module map");
    // Lower modules come first: a module may use only modules listed before it.
    let names: Vec<String> = bullets().into_iter().map(|(n, _)| n).collect();
    let order: Vec<&String> = names.iter().collect();
    // Exported macros live at the crate's root: `crate::outln` is not a module.
    let mut all = Vec::new();
    rust_files(&root().join("src"), &mut all);
    let macros: BTreeSet<String> = all
        .iter()
        .flat_map(|f| {
            let src = std::fs::read_to_string(f).unwrap();
            src.match_indices("macro_rules! ")
                .filter(|(i, _)| {
                    src[..*i]
                        .rfind("#[macro_export]")
                        .is_some_and(|at| *i - at < 60)
                })
                .map(|(i, _)| {
                    src[i + 13..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect::<String>()
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let mut problems = Vec::new();
    for (pos, module) in order.iter().enumerate() {
        let mut files = Vec::new();
        let file = root().join(format!("src/{module}.rs"));
        if file.exists() {
            files.push(file);
        }
        rust_files(&root().join(format!("src/{module}")), &mut files);
        assert!(!files.is_empty(), "no source for module {module}");
        let below: BTreeSet<&String> = order[..pos].iter().copied().collect();
        for f in &files {
            let src = std::fs::read_to_string(f).unwrap();
            for used in crate_refs(&src) {
                if used == **module || macros.contains(&used) {
                    continue;
                }
                let ok = match &map[*module] {
                    Some(allowed) => allowed.contains(&used),
                    None => below.contains(&used),
                };
                if !ok {
                    problems.push(format!(
                        "{} uses crate::{used}, which the map does not allow {module}",
                        f.strip_prefix(root()).unwrap().display()
                    ));
                }
            }
        }
        if let Some(allowed) = &map[*module] {
            for a in allowed {
                assert!(
                    below.contains(a),
                    "the map lets {module} use {a}, which is not listed before it"
                );
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_map_reader_sees_a_forbidden_use() {
    // The check above would pass on an empty reading: make sure it reads paths.
    let refs = crate_refs(
        "use crate::store::Store;\nlet x = crate::model::Answer::One;\n$crate::safe::x();\ncrate::outln!(\"\");",
    );
    assert_eq!(
        refs,
        ["model", "store"].iter().map(|s| s.to_string()).collect()
    );
    let map = module_map();
    assert_eq!(map["safe"], Some(BTreeSet::new()));
    assert!(map["tui"].as_ref().unwrap().contains("store"));
    assert!(!map["tui"].as_ref().unwrap().contains("commands"));
}

#[test]
fn no_workstation_file_is_longer_than_600_lines() {
    let mut files = Vec::new();
    rust_files(&root().join("src/tui"), &mut files);
    files.push(root().join("src/tui.rs"));
    let long: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let n = std::fs::read_to_string(f).unwrap().lines().count();
            (n > 600).then(|| format!("{} ({n} lines)", f.display()))
        })
        .collect();
    assert!(long.is_empty(), "split these by area: {long:?}");
}

/// Lines of `src` that change the workstation's state: assignments to `state.…` fields
/// (not comparisons), collection edits on them, and the state's own mutators.
fn state_writes(src: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (n, line) in src.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        let Some(at) = code.find("state.") else {
            continue;
        };
        let rest = &code[at + "state.".len()..];
        let path: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.')
            .collect();
        let after = rest[path.len()..].trim_start();
        let assigns = (after.starts_with('=') && !after.starts_with("=="))
            || after.starts_with("+=")
            || after.starts_with("-=");
        let call = after.starts_with('(');
        let mutates = call
            && [
                ".insert",
                ".push",
                ".remove",
                ".clear",
                ".retain",
                ".take",
                ".extend",
                ".entry",
                ".get_mut",
                ".iter_mut",
            ]
            .iter()
            .any(|m| path.ends_with(m));
        let own = call && ["open", "close_overlay", "set_editing"].contains(&path.as_str());
        if assigns || mutates || own {
            out.push((n + 1, line.trim().to_string()));
        }
    }
    out
}

#[test]
fn only_update_changes_the_workstations_state() {
    // The loop, the app and the view read the state; update() alone writes it. The app
    // builds the first state (App::new, before anyone sees it) and sets the clock before
    // each update.
    let mut files = vec![root().join("src/tui.rs"), root().join("src/tui/app.rs")];
    rust_files(&root().join("src/tui/view"), &mut files);
    files.push(root().join("src/tui/view.rs"));
    let mut problems = Vec::new();
    for f in &files {
        let src = std::fs::read_to_string(f).unwrap();
        // App::new's body builds the state: from `pub fn new(` to the App it returns.
        let (ctor_from, ctor_to) =
            match (src.find("    pub fn new("), src.find("let mut app = App {")) {
                (Some(a), Some(b)) => (src[..a].lines().count() + 1, src[..b].lines().count() + 1),
                _ => (0, 0),
            };
        for (n, line) in state_writes(&src) {
            let in_ctor = n >= ctor_from && n <= ctor_to;
            let clock = line.contains("state.now_ms = now_ms()");
            if !in_ctor && !clock {
                problems.push(format!(
                    "{}:{n}: {line}",
                    f.strip_prefix(root()).unwrap().display()
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "state changed outside update():\n{}",
        problems.join("\n")
    );
    // The reader sees a write (so the check above can fail).
    let found = state_writes(
        "        self.state.message = None;\n        if state.quit == true {}\n        app.state.queue.push(x);\n        state.open(Overlay::Break);\n",
    );
    assert_eq!(found.iter().map(|(n, _)| *n).collect::<Vec<_>>(), [1, 3, 4]);
}
