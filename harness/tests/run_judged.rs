//! Every replica is judged: one that never comes back after a nemesis restart fails
//! the run even though the other three finish it and answer every client.

mod common;

use common::run::run_with;
use std::os::unix::fs::PermissionsExt;

#[test]
fn a_restarted_replica_that_never_gets_ready_fails_crashes() {
    // A replica binary that runs the real replica the first time and, started again
    // on the same data directory, only sleeps (it never answers).
    let dir = tempfile::tempdir().unwrap();
    let wrapper = dir.path().join("replica-once.sh");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\n\
             prev=''; data=''\n\
             for a in \"$@\"; do [ \"$prev\" = --data-dir ] && data=\"$a\"; prev=\"$a\"; done\n\
             if [ -e \"$data/.started\" ]; then exec sleep 600; fi\n\
             touch \"$data/.started\"\n\
             exec '{}' replica -- \"$@\"\n",
            env!("CARGO_BIN_EXE_harness")
        ),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = run_with(
        &["--seed", "23", "--replica-bin", wrapper.to_str().unwrap()],
        Some(
            r#"
            [[fault]]
            at = 2
            heal = 4
            kind = "kill"
            nodes = [3]
            "#,
        ),
        |_| {},
    );
    let crashes = out.oracle("crashes");
    assert_eq!(
        crashes["verdict"], "invalid",
        "replica 3 never answered after its restart: {:#}",
        out.results["oracles"]
    );
    let evidence = crashes["evidence"][0].as_str().unwrap();
    assert!(evidence.contains("replica 3"), "{evidence}");
    assert_eq!(out.status, Some(1), "stderr:\n{}", out.stderr);
    // The three others served every client: linearizable and live.
    assert_eq!(out.oracle("linearizability")["verdict"], "valid");
    assert_eq!(out.oracle("liveness")["verdict"], "valid");
}
