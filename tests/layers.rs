//! The layers `src/lib.rs` describes, held against the code: every `crate::module` a source file
//! names must be a module of a line below the file's own. The list is read from lib.rs itself,
//! so the description and this check cannot drift apart.
// Its helpers are test code too, though outside a #[test] (which clippy.toml already allows).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The modules of each line of lib.rs's list, top line first.
fn layers(lib: &str) -> Vec<Vec<String>> {
    lib.lines()
        .filter_map(|l| l.strip_prefix("//! - "))
        .map(|item| {
            let names = item.split(':').next().unwrap_or_default();
            names.split(',').map(|n| n.trim().trim_matches('`').to_owned()).collect()
        })
        .collect()
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).expect("read src").flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level modules `text` names as `crate::module` (also inside `use crate::{a, b}`).
fn named_modules(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(list) = rest.strip_prefix('{') {
            let end = list.find('}').unwrap_or(list.len());
            for item in list[..end].split(',') {
                found.push(item.trim().split("::").next().unwrap_or_default().to_owned());
            }
            continue;
        }
        let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
        found.push(rest[..end].to_owned());
    }
    // Items of lib.rs itself (`crate::VERSION`) are no layer.
    found.retain(|m| m.chars().next().is_some_and(|c| c.is_ascii_lowercase()));
    found
}

#[test]
fn no_module_imports_a_layer_above_or_beside_its_own() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = std::fs::read_to_string(root.join("lib.rs")).expect("read lib.rs");
    let lines = layers(&lib);
    let rank: BTreeMap<String, usize> =
        lines.iter().enumerate().flat_map(|(i, names)| names.iter().map(move |n| (n.clone(), i))).collect();
    assert!(rank.len() >= 10, "lib.rs's list of layers was not found: {lines:?}");
    let mut files = Vec::new();
    sources(&root, &mut files);
    let mut wrong = Vec::new();
    let mut unlisted = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&root).expect("under src");
        let first = relative.components().next().map(|c| c.as_os_str().to_string_lossy().into_owned());
        let module = first.unwrap_or_default().trim_end_matches(".rs").to_owned();
        if module == "lib" || module == "bin" {
            continue; // the root, and the binaries, which reach the crate by its name
        }
        let Some(&own) = rank.get(&module) else {
            unlisted.push(module);
            continue;
        };
        let text = std::fs::read_to_string(file).expect("read source");
        for named in named_modules(&text) {
            if named == module {
                continue;
            }
            match rank.get(&named) {
                Some(&theirs) if theirs > own => {}
                _ => wrong.push(format!("{} names crate::{named}", relative.display())),
            }
        }
    }
    unlisted.sort();
    unlisted.dedup();
    assert!(unlisted.is_empty(), "modules lib.rs's list does not place: {unlisted:?}");
    wrong.sort();
    wrong.dedup();
    assert!(wrong.is_empty(), "imports that run up or sideways:\n{}", wrong.join("\n"));
}

#[test]
fn the_reader_of_imports_sees_both_forms() {
    let text = "use crate::error::Result;\nuse crate::{label::ImageRef, text};\nlet v = crate::VERSION;";
    assert_eq!(named_modules(text), ["error", "label", "text"]);
}

/// Small rooms: no source file over 450 lines, and each opens with a `//!` line saying what it
/// is, so the next engineer can read any one whole. One room is larger: zbus takes an
/// interface as one `#[interface]` impl block, so the D-Bus surface's methods (each a few lines
/// that only translate) cannot be split across files; it may have up to 500.
#[test]
fn every_source_file_is_small_and_says_what_it_is() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &mut files);
    let mut large = Vec::new();
    let mut undescribed = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read a source file");
        let shown = file.strip_prefix(&root).expect("under src").display().to_string();
        let lines = text.lines().count();
        let limit = if shown == "dbus/interface.rs" { 500 } else { 450 };
        if lines > limit {
            large.push(format!("{shown} ({lines} lines)"));
        }
        if !text.trim_start().starts_with("//!") {
            undescribed.push(shown);
        }
    }
    assert!(files.len() > 50, "the sources were not found under {}", root.display());
    assert!(large.is_empty(), "over their limit: {large:?}");
    assert!(undescribed.is_empty(), "no //! line at the top: {undescribed:?}");
}
