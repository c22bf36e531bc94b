//! Scenario files as shipped: every bundled `scenarios/*.toml` validates, and the documented
//! examples in `scenarios/README.md` parse (so the documentation cannot drift from the model).

use redline::scenario::{self, Arrival, Distribution, Format};
use std::path::{Path, PathBuf};

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

/// Every bundled scenario file: `scenarios/*` and the drills in `scenarios/drills/*`.
fn bundled() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in [scenarios_dir(), scenarios_dir().join("drills")] {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml" || e == "json") {
                files.push(path);
            }
        }
    }
    files
}

/// The ```toml blocks of the README, in order.
fn readme_toml_blocks() -> Vec<String> {
    let readme = std::fs::read_to_string(scenarios_dir().join("README.md")).unwrap();
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in readme.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```toml") => current = Some(String::new()),
            (Some(block), "```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

#[test]
fn every_bundled_scenario_validates() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for path in bundled() {
        {
            checked += 1;
            if let Err(e) = scenario::load_file(&path, &[]) {
                failures.push(e.to_string());
            }
        }
    }
    assert!(checked >= 11, "the drills are bundled too ({checked})");
    assert!(
        failures.is_empty(),
        "{checked} checked:\n{}",
        failures.join("\n")
    );
}

#[test]
fn readme_example_parses_with_every_field() {
    let blocks = readme_toml_blocks();
    let example = blocks
        .first()
        .expect("a ```toml block in scenarios/README.md");
    let s = scenario::parse_str(example, Format::Toml, "scenarios/README.md", &[])
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.name, "example");
    assert_eq!(s.keyspace.keys, 100_000);
    assert_eq!(
        s.keyspace.distribution,
        Distribution::Zipfian { exponent: 0.99 }
    );
    assert_eq!(s.ops.len(), 5);
    assert_eq!(s.thresholds.len(), 7);
    assert!(matches!(s.load.arrival, Arrival::Open { rate, .. } if rate == 2000.0));
    // Overrides work on it like on any file.
    let s =
        scenario::parse_str(example, Format::Toml, "README.md", &["load.rate=10".into()]).unwrap();
    assert!(matches!(s.load.arrival, Arrival::Open { rate, .. } if rate == 10.0));
}

#[test]
fn readme_load_snippets_parse_in_place_of_the_examples_load() {
    let blocks = readme_toml_blocks();
    let example = &blocks[0];
    let base = &example[..example.find("[load]").unwrap()];
    let snippets: Vec<&String> = blocks[1..]
        .iter()
        .filter(|b| b.starts_with("[load]"))
        .collect();
    assert!(snippets.len() >= 2, "the ramp and closed examples");
    for snippet in snippets {
        let text = format!("{base}{snippet}");
        if let Err(e) = scenario::parse_str(&text, Format::Toml, "README.md", &[]) {
            panic!("{e}\n{snippet}");
        }
    }
}

#[test]
fn every_bundled_scenario_prints_as_a_file_that_reads_back_the_same() {
    for path in bundled() {
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let s = scenario::load_file(&path, &[]).unwrap();
        let printed = s.to_toml();
        let again = scenario::parse_str(&printed, Format::Toml, &path.display().to_string(), &[])
            .unwrap_or_else(|e| panic!("{}: {e}\n{printed}", path.display()));
        assert_eq!(again, s, "{}:\n{printed}", path.display());
    }
}

#[test]
fn readme_fault_and_expectation_snippets_parse_with_the_example() {
    let blocks = readme_toml_blocks();
    let example = &blocks[0];
    let expectations = blocks
        .iter()
        .find(|b| b.starts_with("thresholds = [") && b.contains("breaker."))
        .expect("the breaker expectations example");
    let faults = blocks
        .iter()
        .find(|b| b.starts_with("[[faults]]"))
        .expect("the [[faults]] example");
    // The example with its thresholds replaced by the expectations, and the faults added.
    let start = example.find("thresholds = [").unwrap();
    let end = start + example[start..].find("]\n").unwrap() + 2;
    let text = format!(
        "{expectations}{}{}\n{faults}",
        &example[..start],
        &example[end..]
    );
    let s = scenario::parse_str(&text, Format::Toml, "README.md", &[])
        .unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(s.faults.len(), 2);
    assert_eq!(s.faults[0].name, "crash");
    assert!(s
        .thresholds
        .iter()
        .all(|t| t.fault.as_deref().is_none_or(|f| f == "crash")));
}
