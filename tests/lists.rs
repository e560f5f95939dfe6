//! One source per list, the others held to it. The polkit actions come from
//! `polkit/org.atomic.policy` (what polkitd reads; `src/system/polkit.rs` is checked against it
//! by its own test), the methods from `dbus/org.atomic.Manager.xml` (which the running daemon is
//! checked against), and the error names from `src/error.rs`. docs/API.md and the Cockpit page
//! must say the same; none of these tests needs anything running.

mod common;

use std::collections::BTreeSet;

use common::{parse_xml, read, root};

/// The words in double quotes that follow `prefix` in `text` (`"org.atomic.run": ...` and the like).
fn quoted_after<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
    text.split(prefix).skip(1).filter_map(|rest| rest.split('"').next()).collect()
}

/// The rows of the JS object literal `const NAME = { ... };` in `text`.
fn js_object<'a>(text: &'a str, name: &str) -> Vec<(&'a str, &'a str)> {
    let start = text.find(&format!("const {name} = {{")).unwrap_or_else(|| panic!("no const {name}"));
    let body = &text[start..];
    let body = &body[body.find('{').unwrap_or(0) + 1..body.find("};").unwrap_or(body.len())];
    body.lines()
        .filter_map(|line| {
            let (key, value) = line.trim().split_once(':')?;
            Some((key.trim().trim_matches('"'), value.trim().trim_end_matches(',').trim_matches('"')))
        })
        .collect()
}

/// Each action of the policy file with its allow_active default.
fn policy_actions() -> Vec<(String, String)> {
    let text = read("polkit/org.atomic.policy");
    let doc = parse_xml(&text);
    doc.descendants()
        .filter(|n| n.has_tag_name("action"))
        .map(|a| {
            let active = a.descendants().find(|n| n.has_tag_name("allow_active")).and_then(|n| n.text());
            (a.attribute("id").unwrap_or_default().to_owned(), active.unwrap_or_default().to_owned())
        })
        .collect()
}

#[test]
fn the_policy_file_declares_each_action_fully_and_denies_remote_sessions() {
    let text = read("polkit/org.atomic.policy");
    let doc = parse_xml(&text);
    let actions: Vec<_> = doc.descendants().filter(|n| n.has_tag_name("action")).collect();
    assert!(actions.len() >= 14, "{}", actions.len());
    for action in actions {
        let id = action.attribute("id").unwrap_or_default();
        let field = |tag: &str| action.descendants().find(|n| n.has_tag_name(tag)).and_then(|n| n.text());
        assert_eq!(field("allow_inactive"), Some("auth_admin"), "{id}");
        assert_eq!(field("allow_any"), Some("auth_admin"), "{id}");
        assert!(field("description").is_some_and(|d| !d.is_empty()), "{id} has no description");
        assert!(field("message").is_some_and(|m| !m.is_empty()), "{id} has no message");
    }
}

#[test]
fn the_docs_polkit_table_is_the_policy_file() {
    let docs = read("docs/API.md");
    let table: Vec<(String, String)> = docs
        .lines()
        .filter(|l| l.starts_with("| `org.atomic.") && !l.starts_with("| `org.atomic.Error."))
        .map(|row| {
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            (cells[1].trim_matches('`').to_owned(), cells[cells.len() - 2].to_owned())
        })
        .collect();
    let mut policy = policy_actions();
    let mut table_sorted = table.clone();
    policy.sort();
    table_sorted.sort();
    assert_eq!(table_sorted, policy, "docs/API.md's polkit table and polkit/org.atomic.policy differ");
}

#[test]
fn the_page_explains_every_action_and_no_other() {
    let page = read("cockpit/atomic/dbus.js");
    let explained: BTreeSet<&str> = js_object(&page, "ACTIONS").into_iter().map(|(id, _)| id).collect();
    let declared: Vec<(String, String)> = policy_actions();
    let declared: BTreeSet<&str> = declared.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(explained, declared, "cockpit/atomic/dbus.js ACTIONS and the policy file differ");
}

#[test]
fn the_page_calls_methods_of_the_xml_with_their_signatures() {
    let xml = read("dbus/org.atomic.Manager.xml");
    let doc = parse_xml(&xml);
    let manager = doc
        .descendants()
        .find(|n| n.has_tag_name("interface") && n.attribute("name") == Some("org.atomic.Manager"))
        .unwrap_or_else(|| panic!("no org.atomic.Manager in the XML"));
    let in_signature = |method: &str| -> Option<String> {
        let m =
            manager.children().find(|n| n.has_tag_name("method") && n.attribute("name") == Some(method))?;
        Some(
            m.children()
                .filter(|a| a.has_tag_name("arg") && a.attribute("direction") != Some("out"))
                .filter_map(|a| a.attribute("type"))
                .collect(),
        )
    };
    let page = read("cockpit/atomic/dbus.js");
    let signatures = js_object(&page, "SIGNATURES");
    assert!(signatures.len() >= 10, "{signatures:?}");
    for (method, signature) in &signatures {
        assert_eq!(in_signature(method).as_deref(), Some(*signature), "the page's signature of {method}");
    }
    let known: BTreeSet<&str> = signatures.iter().map(|(m, _)| *m).collect();
    for file in ["index.js", "apps.js", "containers.js", "host.js", "jobs.js", "trust.js"] {
        let text = read(&format!("cockpit/atomic/{file}"));
        for method in quoted_after(&text, ".call(\"") {
            assert!(known.contains(method), "{file} calls {method}, which SIGNATURES does not type");
        }
    }
}

#[test]
fn every_error_name_anyone_writes_is_one_atomicd_sends() {
    let source = read("src/error.rs");
    let sent: BTreeSet<&str> = quoted_after(&source, "=> \"org.atomic.Error.").into_iter().collect();
    assert!(sent.len() >= 12, "{sent:?}");
    let docs = read("docs/API.md");
    for name in &sent {
        assert!(docs.contains(&format!("`org.atomic.Error.{name}`")), "docs/API.md does not list {name}");
    }
    let mut readers = vec!["docs/API.md".to_owned(), "dbus/org.atomic.Manager.xml".to_owned()];
    for dir in ["cockpit/atomic", "src/cli"] {
        let path = root().join(dir);
        for entry in std::fs::read_dir(&path).unwrap().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".js") || name.ends_with(".rs") {
                readers.push(format!("{dir}/{name}"));
            }
        }
    }
    for file in readers {
        let text = read(&file);
        for rest in text.split("org.atomic.Error.").skip(1) {
            let name: String = rest.chars().take_while(char::is_ascii_alphanumeric).collect();
            if name.is_empty() {
                continue; // `org.atomic.Error.*`, the family
            }
            assert!(
                sent.contains(name.as_str()),
                "{file} names org.atomic.Error.{name}, which atomicd never sends"
            );
        }
    }
}

#[test]
fn signal_arguments_carry_no_direction() {
    // busctl warns on one: a signal's arguments only go out.
    let xml = read("dbus/org.atomic.Manager.xml");
    let doc = parse_xml(&xml);
    let signals: Vec<_> = doc.descendants().filter(|n| n.has_tag_name("signal")).collect();
    assert!(!signals.is_empty());
    for signal in signals {
        for arg in signal.children().filter(|n| n.has_tag_name("arg")) {
            assert_eq!(arg.attribute("direction"), None, "signal {:?}", signal.attribute("name"));
        }
    }
}
