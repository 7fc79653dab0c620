//! Keys as data: the embedded default keymap (assets/keymap.toml), a user file that
//! overrides only the actions it names, and lookup of a key press.

use super::action::Command;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// The embedded defaults.
pub const DEFAULT_KEYMAP: &str = include_str!("../../assets/keymap.toml");

/// A key with its modifiers, normalised (Shift is part of the character).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    /// The key.
    pub code: KeyCodeOrd,
    /// Ctrl and Alt (Shift only for non-character keys).
    pub mods: u8,
}

/// A `KeyCode` subset that can be ordered and named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyCodeOrd {
    /// A character.
    Char(char),
    /// A function key.
    F(u8),
    /// A named key.
    Named(&'static str),
}

const CTRL: u8 = 1;
const ALT: u8 = 2;
const NAMED: &[(&str, KeyCode)] = &[
    ("enter", KeyCode::Enter),
    ("tab", KeyCode::Tab),
    ("backtab", KeyCode::BackTab),
    ("esc", KeyCode::Esc),
    ("backspace", KeyCode::Backspace),
    ("delete", KeyCode::Delete),
    ("up", KeyCode::Up),
    ("down", KeyCode::Down),
    ("left", KeyCode::Left),
    ("right", KeyCode::Right),
    ("pageup", KeyCode::PageUp),
    ("pagedown", KeyCode::PageDown),
    ("home", KeyCode::Home),
    ("end", KeyCode::End),
];

impl Key {
    /// Parses `ctrl-x`, `alt-1`, `enter`, `space`, `f2`, `?`, `N`.
    pub fn parse(spec: &str) -> Option<Key> {
        let mut mods = 0;
        let mut rest = spec;
        loop {
            if let Some(r) = rest.strip_prefix("ctrl-") {
                mods |= CTRL;
                rest = r;
            } else if let Some(r) = rest.strip_prefix("alt-") {
                mods |= ALT;
                rest = r;
            } else {
                break;
            }
        }
        let code = if rest == "space" {
            KeyCodeOrd::Char(' ')
        } else if let Some((name, _)) = NAMED.iter().find(|(n, _)| *n == rest) {
            KeyCodeOrd::Named(name)
        } else if let Some(n) = rest.strip_prefix('f').and_then(|n| n.parse::<u8>().ok()) {
            if !(1..=12).contains(&n) {
                return None;
            }
            KeyCodeOrd::F(n)
        } else {
            let mut chars = rest.chars();
            let c = chars.next()?;
            if chars.next().is_some() {
                return None;
            }
            KeyCodeOrd::Char(if mods & CTRL != 0 {
                c.to_ascii_lowercase()
            } else {
                c
            })
        };
        Some(Key { code, mods })
    }

    /// The key of a terminal key event, if it is one a keymap can name.
    pub fn from_event(ev: &KeyEvent) -> Option<Key> {
        let mut mods = 0;
        if ev.modifiers.contains(KeyModifiers::CONTROL) {
            mods |= CTRL;
        }
        if ev.modifiers.contains(KeyModifiers::ALT) {
            mods |= ALT;
        }
        let code = match ev.code {
            KeyCode::Char(c) => KeyCodeOrd::Char(if mods & CTRL != 0 {
                c.to_ascii_lowercase()
            } else {
                c
            }),
            KeyCode::F(n) => KeyCodeOrd::F(n),
            other => KeyCodeOrd::Named(NAMED.iter().find(|(_, k)| *k == other)?.0),
        };
        Some(Key { code, mods })
    }

    /// The key as written in a keymap file.
    pub fn name(&self) -> String {
        let mut s = String::new();
        if self.mods & CTRL != 0 {
            s.push_str("ctrl-");
        }
        if self.mods & ALT != 0 {
            s.push_str("alt-");
        }
        match self.code {
            KeyCodeOrd::Char(' ') => s.push_str("space"),
            KeyCodeOrd::Char(c) => s.push(c),
            KeyCodeOrd::F(n) => s.push_str(&format!("f{n}")),
            KeyCodeOrd::Named(n) => s.push_str(n),
        }
        s
    }

    /// True for a plain character (no Ctrl/Alt): such keys type text in the editor.
    pub fn is_plain_char(&self) -> bool {
        self.mods == 0 && matches!(self.code, KeyCodeOrd::Char(_))
    }
}

/// Where an action's keys apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// While labeling (the editor does not have the keyboard).
    #[default]
    Normal,
    /// While the justification editor has the keyboard.
    Editor,
    /// In a one-line prompt (skip reason, flag note, a search): confirm and cancel.
    Prompt,
    /// In the help screen and the other scrolling overlays.
    Overlay,
}

impl Scope {
    /// The name in keymap files (none for the default scope).
    pub fn name(self) -> Option<&'static str> {
        match self {
            Scope::Normal => None,
            Scope::Editor => Some("editor"),
            Scope::Prompt => Some("prompt"),
            Scope::Overlay => Some("overlay"),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    keys: Vec<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    scope: Option<Scope>,
}

/// One action's binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The action.
    pub command: Command,
    /// Its keys.
    pub keys: Vec<Key>,
    /// What it does.
    pub description: String,
    /// Where it applies.
    pub scope: Scope,
}

/// The effective keymap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keymap {
    /// Bindings in the default file's order.
    pub bindings: Vec<Binding>,
}

fn parse_file(src: &str, origin: &str) -> anyhow::Result<Vec<(Command, Entry)>> {
    let table: toml::Table = toml::from_str(src).map_err(|e| anyhow::anyhow!("{origin}: {e}"))?;
    let mut out = Vec::new();
    for (name, value) in table {
        let command = Command::from_name(&name).ok_or_else(|| {
            anyhow::anyhow!(
                "{origin}: [{name}] is not an action; the actions are: {}",
                Command::ALL
                    .iter()
                    .map(|c| c.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
        let entry: Entry = value
            .try_into()
            .map_err(|e| anyhow::anyhow!("{origin}: [{name}]: {e}"))?;
        out.push((command, entry));
    }
    Ok(out)
}

fn keys(entry: &Entry, name: &str, origin: &str) -> anyhow::Result<Vec<Key>> {
    entry
        .keys
        .iter()
        .map(|k| {
            Key::parse(k).ok_or_else(|| {
                anyhow::anyhow!("{origin}: [{name}]: '{k}' is not a key (examples: \"q\", \"ctrl-z\", \"alt-1\", \"enter\", \"f2\")")
            })
        })
        .collect()
}

impl Keymap {
    /// The defaults, overridden by `user` (file text and its path for messages).
    pub fn load(user: Option<(&str, &Path)>) -> anyhow::Result<Keymap> {
        let mut bindings = Vec::new();
        // Keep the file's order: toml::Table sorts keys, so order by position in the text.
        let mut defaults = parse_file(DEFAULT_KEYMAP, "assets/keymap.toml")?;
        defaults.sort_by_key(|(c, _)| {
            DEFAULT_KEYMAP
                .find(&format!("\n[{}]\n", c.name()))
                .unwrap_or(usize::MAX)
        });
        for (command, entry) in &defaults {
            bindings.push(Binding {
                command: *command,
                keys: keys(entry, command.name(), "assets/keymap.toml")?,
                description: entry.description.clone().unwrap_or_default(),
                scope: entry.scope.unwrap_or_default(),
            });
        }
        let origin = user
            .map(|(_, p)| p.display().to_string())
            .unwrap_or_default();
        if let Some((src, _)) = user {
            for (command, entry) in parse_file(src, &origin)? {
                let ks = keys(&entry, command.name(), &origin)?;
                if let Some(b) = bindings.iter_mut().find(|b| b.command == command) {
                    b.keys = ks;
                }
            }
        }
        let km = Keymap { bindings };
        km.check(if origin.is_empty() {
            "assets/keymap.toml"
        } else {
            &origin
        })?;
        Ok(km)
    }

    /// Loads the defaults and `keymap.toml` from the config directory, if there is one.
    pub fn load_from(config_dir: &Path) -> anyhow::Result<Keymap> {
        let path = config_dir.join("keymap.toml");
        match std::fs::read_to_string(&path) {
            Ok(src) => Keymap::load(Some((&src, &path))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Keymap::load(None),
            Err(e) => Err(anyhow::anyhow!("cannot read {}: {e}", path.display())),
        }
    }

    fn check(&self, origin: &str) -> anyhow::Result<()> {
        let mut seen: BTreeMap<(u8, Key), Command> = BTreeMap::new();
        for b in &self.bindings {
            for k in &b.keys {
                let types = matches!(b.scope, Scope::Editor | Scope::Prompt);
                if types && k.is_plain_char() {
                    anyhow::bail!(
                        "{origin}: [{}]: '{}' types text in the {}; give it a ctrl-, alt- or named key",
                        b.command.name(),
                        k.name(),
                        if b.scope == Scope::Editor {
                            "editor"
                        } else {
                            "prompt"
                        }
                    );
                }
                if let Some(other) = seen.insert((b.scope as u8, *k), b.command)
                    && other != b.command
                {
                    anyhow::bail!(
                        "{origin}: key '{}' is bound to both [{}] and [{}]; bind it to one of them",
                        k.name(),
                        other.name(),
                        b.command.name()
                    );
                }
            }
        }
        Ok(())
    }

    /// The keymap's keys that an option key of `schema` shadows: while that option's
    /// question is focused its key chooses the option, so the keymap's action is not
    /// reachable by it. One warning per clash, naming both.
    pub fn shadowed_by(&self, schema: &crate::model::Schema) -> Vec<String> {
        let mut out = Vec::new();
        for q in &schema.questions {
            for o in &q.options {
                let Some(key) = o.key.as_deref().and_then(Key::parse) else {
                    continue;
                };
                if let Some(cmd) = self.lookup(key, Scope::Normal) {
                    out.push(format!(
                        "key '{}' is the keymap's {} and the option '{}' of '{}' (schema {}): while that question is focused it chooses the option; give {} another key in keymap.toml",
                        key.name(),
                        cmd.name(),
                        o.label,
                        q.label,
                        schema.id,
                        cmd.name()
                    ));
                }
            }
        }
        out
    }

    /// The action a key runs in a scope.
    pub fn lookup(&self, key: Key, scope: Scope) -> Option<Command> {
        self.bindings
            .iter()
            .find(|b| b.scope == scope && b.keys.contains(&key))
            .map(|b| b.command)
    }

    /// The first key of an action, for hints on screen.
    pub fn key_of(&self, command: Command) -> String {
        self.bindings
            .iter()
            .find(|b| b.command == command)
            .and_then(|b| b.keys.first())
            .map(Key::name)
            .unwrap_or_else(|| "(unbound)".into())
    }

    /// The effective keymap as TOML (action, keys, description), for `verdict keys`.
    pub fn to_toml(&self) -> String {
        let mut out = String::from("# verdict's effective keymap (defaults + your keymap.toml)\n");
        for b in &self.bindings {
            let keys: Vec<String> = b
                .keys
                .iter()
                .map(|k| toml::Value::String(k.name()).to_string())
                .collect();
            out.push_str(&format!(
                "\n[{}]\nkeys = [{}]\n",
                b.command.name(),
                keys.join(", ")
            ));
            out.push_str(&format!(
                "description = {}\n",
                toml::Value::String(b.description.clone())
            ));
            if let Some(scope) = b.scope.name() {
                out.push_str(&format!("scope = \"{scope}\"\n"));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_has_a_default_binding_and_the_defaults_are_consistent() {
        let km = Keymap::load(None).unwrap();
        for c in Command::ALL {
            assert!(
                km.bindings.iter().any(|b| b.command == *c),
                "{} has no binding",
                c.name()
            );
        }
        assert_eq!(
            km.lookup(Key::parse("enter").unwrap(), Scope::Normal),
            Some(Command::Submit)
        );
        assert_eq!(
            km.lookup(Key::parse("esc").unwrap(), Scope::Editor),
            Some(Command::LeaveEditor)
        );
        assert_eq!(km.lookup(Key::parse("esc").unwrap(), Scope::Normal), None);
    }

    #[test]
    fn default_keys_do_not_collide_with_shipped_schema_option_keys() {
        let km = Keymap::load(None).unwrap();
        for (id, _) in crate::model::BUILTIN_SCHEMAS {
            let schema = crate::model::Schema::builtin(id).unwrap();
            for q in &schema.questions {
                for o in &q.options {
                    let Some(k) = o.key.as_deref().and_then(Key::parse) else {
                        continue;
                    };
                    assert_eq!(
                        km.lookup(k, Scope::Normal),
                        None,
                        "option key '{}' of {id}/{} is also a global key",
                        k.name(),
                        q.id
                    );
                }
            }
        }
    }

    #[test]
    fn a_user_file_overrides_only_what_it_names_and_conflicts_are_refused() {
        let p = Path::new("/home/r/.config/verdict/keymap.toml");
        let km = Keymap::load(Some(("[next_item]\nkeys = [\"l\", \"right\"]\n", p))).unwrap();
        assert_eq!(
            km.lookup(Key::parse("l").unwrap(), Scope::Normal),
            Some(Command::NextItem)
        );
        assert_eq!(
            km.lookup(Key::parse("ctrl-n").unwrap(), Scope::Normal),
            None
        );
        assert_eq!(
            km.lookup(Key::parse("left").unwrap(), Scope::Normal),
            Some(Command::PrevItem)
        );
        let e = Keymap::load(Some(("[next_item]\nkeys = [\"q\"]\n", p)))
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "/home/r/.config/verdict/keymap.toml: key 'q' is bound to both [next_item] and [quit]; bind it to one of them"
        );
        let e = Keymap::load(Some(("[fly]\nkeys = [\"x\"]\n", p)))
            .unwrap_err()
            .to_string();
        assert!(e.contains("[fly] is not an action"), "{e}");
        let e = Keymap::load(Some(("[undo]\nkeys = [\"ctrl-\"]\n", p)))
            .unwrap_err()
            .to_string();
        assert!(e.contains("'ctrl-' is not a key"), "{e}");
        let e = Keymap::load(Some(("[snippet_1]\nkeys = [\"x\"]\n", p)))
            .unwrap_err()
            .to_string();
        assert!(e.contains("types text in the editor"), "{e}");
    }

    #[test]
    fn the_printed_keymap_loads_back_to_the_same_bindings() {
        let km = Keymap::load(None).unwrap();
        let text = km.to_toml();
        let again = Keymap::load(Some((&text, Path::new("printed.toml")))).unwrap();
        assert_eq!(again.bindings, km.bindings);
    }
}
