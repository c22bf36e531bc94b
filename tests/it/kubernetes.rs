//! The Kubernetes manifests (deploy/kubernetes) validated against the Kubernetes schemas
//! with `kubernetes-validate` (PyPI), since no cluster runs them here, and kept consistent
//! with each other: every file listed in kustomization.yaml, the Job's completions equal to
//! the run's shard count, the image the one kustomization names.

use std::path::{Path, PathBuf};
use std::process::Command;

fn manifests() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/kubernetes")
}

/// The value after `key:` on the first line that has it, quotes removed.
fn field(text: &str, key: &str) -> String {
    text.lines()
        .find_map(|l| l.trim().strip_prefix(key)?.strip_prefix(':'))
        .map(|v| {
            v.split('#')
                .next()
                .unwrap_or("")
                .trim()
                .trim_matches('"')
                .to_string()
        })
        .unwrap_or_else(|| panic!("no {key}: line"))
}

#[test]
fn the_kubernetes_manifests_validate_against_the_schemas() {
    let dir = manifests();
    let kustomization = std::fs::read_to_string(dir.join("kustomization.yaml")).expect("read");
    let listed: Vec<String> = kustomization
        .lines()
        .skip_while(|l| !l.starts_with("resources:"))
        .skip(1)
        .take_while(|l| l.starts_with("  - "))
        .map(|l| l.trim_start_matches("  - ").trim().to_string())
        .collect();
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("read dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".yaml") && n != "kustomization.yaml")
        .collect();
    files.sort();
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(
        sorted, files,
        "kustomization.yaml lists every manifest, and only those"
    );

    let validator = Command::new("kubernetes-validate")
        .args(["--strict", "--quiet"])
        .args(files.iter().map(|f| dir.join(f)))
        .output();
    let out = match validator {
        Ok(out) => out,
        Err(e) => panic!(
            "kubernetes-validate is not installed ({e}): install it with \
             `pip install kubernetes-validate` (scripts/test and .ci/run do when it is missing)"
        ),
    };
    assert!(
        out.status.success(),
        "the manifests do not validate:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let job = std::fs::read_to_string(dir.join("generators-job.yaml")).expect("read");
    let run = std::fs::read_to_string(dir.join("run-configmap.yaml")).expect("read");
    let count = field(&run, "REDLINE_SHARD_COUNT");
    assert_eq!(
        field(&job, "completions"),
        count,
        "completions = REDLINE_SHARD_COUNT"
    );
    assert_eq!(
        field(&job, "parallelism"),
        count,
        "every shard runs at once"
    );
    assert_eq!(field(&job, "completionMode"), "Indexed");
    assert_eq!(field(&job, "image"), field(&kustomization, "- name"));
    assert!(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("Dockerfile")
            .exists(),
        "the image the manifests use is defined"
    );
}
