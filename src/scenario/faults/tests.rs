use super::*;

fn file(kind: KindName, at: u64, dur: u64) -> FaultFile {
    FaultFile::new(kind, Duration::from_secs(at), Duration::from_secs(dur))
}

const LEN: Option<Duration> = Some(Duration::from_secs(30));

#[test]
fn failover_takes_a_method_and_no_other_parameter() {
    let mut f = file(KindName::Failover, 1, 2);
    let faults = resolve(vec![Some(f.clone())], LEN).unwrap();
    assert_eq!(
        faults[0].kind,
        FaultKind::Failover {
            method: FailoverMethod::Kill
        }
    );
    f.method = Some(FailoverMethod::Sentinel);
    let back = FaultSpec::try_from(FaultFile::from(
        resolve(vec![Some(f.clone())], LEN).unwrap()[0].clone(),
    ));
    assert_eq!(
        back.unwrap().kind,
        FaultKind::Failover {
            method: FailoverMethod::Sentinel
        }
    );
    f.mode = Some(PauseMode::Write);
    let p = resolve(vec![Some(f)], LEN).unwrap_err();
    assert!(
        p[0].message.contains("method (kill or sentinel)"),
        "{}",
        p[0].message
    );
    let mut m = file(KindName::Kill, 1, 2);
    m.method = Some(FailoverMethod::Kill);
    assert!(resolve(vec![Some(m)], LEN).is_err());
    let both = resolve(
        vec![
            Some(file(KindName::Failover, 1, 5)),
            Some(file(KindName::Failover, 3, 5)),
        ],
        LEN,
    )
    .unwrap_err();
    assert!(
        both[0].message.contains("failover is still in progress"),
        "{}",
        both[0].message
    );
}

#[test]
fn names_default_to_the_kind_numbered_when_repeated() {
    let faults = resolve(
        vec![
            Some(file(KindName::Kill, 1, 2)),
            Some(file(KindName::Kill, 10, 2)),
            Some(file(KindName::Oom, 20, 2)),
        ],
        LEN,
    )
    .unwrap();
    let names: Vec<&str> = faults.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["kill1", "kill2", "oom"]);
}

#[test]
fn a_fault_past_the_end_of_the_run_is_refused() {
    let err = resolve(vec![Some(file(KindName::Pause, 25, 10))], LEN).unwrap_err();
    assert_eq!(err[0].path, "faults[0].for");
    assert!(err[0].message.contains("ends at 35s"), "{}", err[0].message);
    let err = resolve(vec![Some(file(KindName::Pause, 1, 1))], None).unwrap_err();
    assert!(err[0].message.contains("load.duration"));
}

#[test]
fn contradicting_overlaps_are_refused_and_composing_ones_allowed() {
    let err = resolve(
        vec![
            Some(file(KindName::Kill, 1, 5)),
            Some(file(KindName::Pause, 3, 5)),
        ],
        LEN,
    )
    .unwrap_err();
    assert_eq!(err[0].path, "faults[1]");
    assert!(
        err[0].message.contains("`pause` overlaps `kill`"),
        "{}",
        err[0].message
    );
    let mut latency = file(KindName::Latency, 1, 5);
    latency.latency = Some(Duration::from_millis(50));
    let ok = resolve(
        vec![
            Some(latency),
            Some(file(KindName::Kill, 2, 2)),
            Some(file(KindName::Bandwidth, 3, 1)).map(|mut f| {
                f.rate = Some(1000);
                f
            }),
        ],
        LEN,
    );
    assert!(ok.is_ok(), "{ok:?}");
    let err = resolve(
        vec![
            Some(file(KindName::Blackhole, 1, 5)),
            Some(file(KindName::Refuse, 5, 5)),
        ],
        LEN,
    )
    .unwrap_err();
    assert!(err[0].message.contains("cuts the link"));
    // Back to back is not an overlap.
    assert!(resolve(
        vec![
            Some(file(KindName::Oom, 1, 4)),
            Some(file(KindName::Oom, 5, 5))
        ],
        LEN
    )
    .is_ok());
}

#[test]
fn parameters_belong_to_their_kind() {
    let mut f = file(KindName::Kill, 1, 1);
    f.latency = Some(Duration::from_millis(5));
    let err = resolve(vec![Some(f)], LEN).unwrap_err();
    assert_eq!(err[0].path, "faults[0].latency");
    assert!(err[0]
        .message
        .contains("kill faults (they take no parameters)"));
    let err = resolve(vec![Some(file(KindName::Latency, 1, 1))], LEN).unwrap_err();
    assert_eq!(err[0].path, "faults[0].latency");
    let mut f = file(KindName::Latency, 1, 1);
    f.latency = Some(Duration::from_millis(5));
    f.jitter = Some(Duration::from_millis(6));
    let err = resolve(vec![Some(f)], LEN).unwrap_err();
    assert_eq!(err[0].path, "faults[0].jitter");
}

#[test]
fn names_are_unique_and_fit_in_brackets() {
    let mut a = file(KindName::Kill, 1, 1);
    a.name = Some("x".into());
    let mut b = file(KindName::Oom, 5, 1);
    b.name = Some("x".into());
    let err = resolve(vec![Some(a.clone()), Some(b)], LEN).unwrap_err();
    assert!(err[0].message.contains("already the name of faults[0]"));
    a.name = Some("kill 1".into());
    let err = resolve(vec![Some(a)], LEN).unwrap_err();
    assert_eq!(err[0].path, "faults[0].name");
}

#[test]
fn the_resolved_form_reads_back() {
    let mut f = file(KindName::Slice, 1, 2);
    f.average_size = Some(16);
    let spec = resolve(vec![Some(f)], LEN).unwrap().remove(0);
    let json = serde_json::to_value(&spec).unwrap();
    assert_eq!(json["kind"], "slice");
    assert_eq!(json["for"], "2s");
    let back: FaultSpec = serde_json::from_value(json).unwrap();
    assert_eq!(back, spec);
}

#[test]
fn a_parameter_of_another_kind_names_the_ones_this_kind_takes() {
    let mut f = file(KindName::Latency, 1, 2);
    f.latency = Some(Duration::from_millis(5));
    f.rate = Some(10);
    let p = resolve(vec![Some(f)], LEN).unwrap_err();
    assert_eq!(p[0].path, "faults[0].rate");
    assert!(
        p[0].message
            .ends_with("latency faults (they take latency, jitter and stream)"),
        "{}",
        p[0].message
    );
    let mut f = file(KindName::Bandwidth, 1, 2);
    f.mode = Some(PauseMode::Write);
    let p = resolve(vec![Some(f)], LEN).unwrap_err();
    assert!(
        p[0].message.ends_with("(they take rate and stream)"),
        "{}",
        p[0].message
    );
}
