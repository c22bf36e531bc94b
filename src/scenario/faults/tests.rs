use super::*;

fn file(kind: KindName, at: u64, dur: u64) -> FaultFile {
    FaultFile {
        name: None,
        kind,
        at: Duration::from_secs(at),
        duration: Duration::from_secs(dur),
        latency: None,
        jitter: None,
        stream: None,
        rate: None,
        average_size: None,
        size_variation: None,
        delay: None,
        mode: None,
        method: None,
        primary: None,
    }
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
    f.method = Some(MethodName::Sentinel);
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
    m.method = Some(MethodName::Kill);
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
fn cluster_failover_takes_kill_or_command_and_a_primary_of_three() {
    let mut f = file(KindName::ClusterFailover, 1, 2);
    let faults = resolve(vec![Some(f.clone())], LEN).unwrap();
    assert_eq!(faults[0].name, "cluster_failover");
    assert_eq!(
        faults[0].kind,
        FaultKind::ClusterFailover {
            method: ClusterFailoverMethod::Kill,
            primary: None
        }
    );
    assert_eq!(faults[0].kind.class(), FaultClass::Failover);
    f.method = Some(MethodName::Command);
    f.primary = Some(2);
    let back = FaultSpec::try_from(FaultFile::from(
        resolve(vec![Some(f.clone())], LEN).unwrap()[0].clone(),
    ));
    assert_eq!(
        back.unwrap().kind,
        FaultKind::ClusterFailover {
            method: ClusterFailoverMethod::Command,
            primary: Some(2)
        }
    );
    let problem = |f: FaultFile| resolve(vec![Some(f)], LEN).unwrap_err().remove(0);
    let mut far = f.clone();
    far.primary = Some(3);
    let p = problem(far);
    assert_eq!(p.path, "faults[0].primary");
    assert!(p.message.contains("must be 0, 1 or 2"), "{}", p.message);
    let mut sentinel = f.clone();
    sentinel.method = Some(MethodName::Sentinel);
    let p = problem(sentinel);
    assert_eq!(p.path, "faults[0].method");
    assert!(p.message.contains("take kill or command"), "{}", p.message);
    let mut command = file(KindName::Failover, 1, 2);
    command.method = Some(MethodName::Command);
    assert!(problem(command).message.contains("cluster_failover"));
    let mut primary = file(KindName::Failover, 1, 2);
    primary.primary = Some(0);
    assert!(problem(primary)
        .message
        .contains("method (kill or sentinel)"));
    // A cluster failover is a failover: it cannot overlap another one.
    let both = resolve(
        vec![
            Some(file(KindName::ClusterFailover, 1, 5)),
            Some(file(KindName::Failover, 3, 5)),
        ],
        LEN,
    )
    .unwrap_err();
    assert!(both[0].message.contains("failover is still in progress"));
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
