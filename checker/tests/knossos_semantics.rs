//! Knossos's semantics beside Porcupine's: what a read of nil means in each model, and
//! Jepsen's independent keys. The histories are EDN, written as Jepsen writes them.

use checker::generate::{linearizable_history, GenSpec};
use checker::history::pair;
use checker::import::parse_edn_history;
use checker::{check_kind, CheckOptions, CheckResult, ModelKind, NilRead, Op, Val, Verdict};
use serde_json::{json, Value};

fn check_edn(
    edn: &str,
    model: ModelKind,
    initial: Val,
    nil_read: NilRead,
    independent: bool,
) -> CheckResult {
    let calls = pair(parse_edn_history(edn, "test.edn").unwrap()).unwrap();
    let options = CheckOptions {
        nil_read,
        independent,
        witness: true,
        ..CheckOptions::default()
    };
    check_kind(model, Some(initial), &calls, &options).unwrap()
}

/// The verdicts of `edn` under `any` and under `value`.
fn both(edn: &str, model: ModelKind, initial: Val) -> (CheckResult, CheckResult) {
    (
        check_edn(edn, model, initial.clone(), NilRead::Any, false),
        check_edn(edn, model, initial, NilRead::Value, false),
    )
}

/// A write of 4 that completed before a read that returned nil.
const REGISTER_NIL_READ: &str = r#"[{:process 0, :type :invoke, :f :write, :value 4}
 {:process 0, :type :ok, :f :write, :value 4}
 {:process 1, :type :invoke, :f :read, :value nil}
 {:process 1, :type :ok, :f :read, :value nil}
 {:process 1, :type :invoke, :f :read, :value nil}
 {:process 1, :type :ok, :f :read, :value 4}]"#;

#[test]
fn register_nil_read_is_unknown_under_any_and_empty_under_value() {
    for model in [ModelKind::Register, ModelKind::CasRegister] {
        let (any, value) = both(REGISTER_NIL_READ, model, Val::Int(0));
        assert_eq!(any.verdict, Verdict::Valid, "{model:?} under any");
        assert_eq!(any.nil_read, Some(NilRead::Any));
        assert_eq!(value.verdict, Verdict::Invalid, "{model:?} under value");
        assert_eq!(value.nil_read, Some(NilRead::Value));
        let c = value.counterexample.unwrap();
        assert_eq!(c.unplaceable.f, "read");
        assert_eq!(c.unplaceable.output, Value::Null);
        assert_eq!(c.state, "4");
    }
}

#[test]
fn any_still_checks_every_read_that_returned_a_value() {
    // The same history with the nil read replaced by a stale read of 0.
    let stale = REGISTER_NIL_READ.replacen(
        ":f :read, :value nil}\n {:process 1, :type :invoke",
        ":f :read, :value 0}\n {:process 1, :type :invoke",
        1,
    );
    assert_ne!(stale, REGISTER_NIL_READ);
    let (any, value) = both(&stale, ModelKind::CasRegister, Val::Int(0));
    assert_eq!(any.verdict, Verdict::Invalid);
    assert_eq!(value.verdict, Verdict::Invalid);
}

#[test]
fn value_accepts_a_nil_read_of_an_empty_register() {
    let edn = r#"[{:process 1, :type :invoke, :f :read, :value nil}
 {:process 1, :type :ok, :f :read, :value nil}
 {:process 0, :type :invoke, :f :write, :value 4}
 {:process 0, :type :ok, :f :write, :value 4}]"#;
    let (any, value) = both(edn, ModelKind::CasRegister, Val::Nil);
    assert_eq!(any.verdict, Verdict::Valid);
    assert_eq!(value.verdict, Verdict::Valid);
    let (_, value) = both(edn, ModelKind::CasRegister, Val::Int(0));
    assert_eq!(value.verdict, Verdict::Invalid);
}

#[test]
fn kv_get_of_nil_follows_the_same_choice() {
    let edn = r#"{:process 0, :type :invoke, :f :put, :key "a", :value "x"}
{:process 0, :type :ok, :f :put, :key "a", :value "x"}
{:process 1, :type :invoke, :f :get, :key "a", :value nil}
{:process 1, :type :ok, :f :get, :key "a", :value nil}
{:process 1, :type :invoke, :f :get, :key "b", :value nil}
{:process 1, :type :ok, :f :get, :key "b", :value ""}"#;
    let (any, value) = both(edn, ModelKind::Kv, Val::Str("".into()));
    assert_eq!(any.verdict, Verdict::Valid);
    assert_eq!(value.verdict, Verdict::Invalid);
    assert_eq!(value.counterexample.unwrap().key.as_deref(), Some("a"));
}

#[test]
fn multi_register_nil_read_micro_op_follows_the_same_choice() {
    let edn = r#"[{:process 0, :type :invoke, :f :txn, :value [[:write :x 4]]}
 {:process 0, :type :ok, :f :txn, :value [[:write :x 4]]}
 {:process 1, :type :invoke, :f :txn, :value [[:read :x nil] [:read :y nil]]}
 {:process 1, :type :ok, :f :txn, :value [[:read :x nil] [:read :y 0]]}]"#;
    let (any, value) = both(edn, ModelKind::MultiRegister, Val::Int(0));
    assert_eq!(any.verdict, Verdict::Valid);
    assert_eq!(value.verdict, Verdict::Invalid);
    // Reads that returned values are checked under both.
    let torn = edn.replace("[:read :y 0]", "[:read :y 3]");
    let (any, _) = both(&torn, ModelKind::MultiRegister, Val::Int(0));
    assert_eq!(any.verdict, Verdict::Invalid);
}

#[test]
fn mutex_has_no_reads_and_no_difference() {
    let edn = r#"[{:process 0, :type :invoke, :f :acquire, :value nil}
 {:process 0, :type :ok, :f :acquire, :value nil}
 {:process 1, :type :invoke, :f :acquire, :value nil}
 {:process 1, :type :ok, :f :acquire, :value nil}]"#;
    let (any, value) = both(edn, ModelKind::Mutex, Val::Nil);
    assert_eq!(any.verdict, Verdict::Invalid);
    assert_eq!(value.verdict, Verdict::Invalid);
    assert_eq!(any.nil_read, None);
}

/// Two keys of a jepsen.independent cas-register test; key 2's last read is `read_2`.
fn independent_history(read_2: &str) -> String {
    format!(
        r#"[{{:process 0, :type :invoke, :f :write, :value [1 1]}}
 {{:process 1, :type :invoke, :f :cas, :value [2 [0 3]]}}
 {{:process 0, :type :ok, :f :write, :value [1 1]}}
 {{:process 1, :type :ok, :f :cas, :value [2 [0 3]]}}
 {{:process 0, :type :invoke, :f :cas, :value [1 [1 2]]}}
 {{:process 1, :type :invoke, :f :read, :value [2 nil]}}
 {{:process 0, :type :ok, :f :cas, :value [1 [1 2]]}}
 {{:process 1, :type :ok, :f :read, :value [2 {read_2}]}}
 {{:process 0, :type :invoke, :f :write, :value [1 4]}}
 {{:process 0, :type :info, :f :write, :value [1 4]}}
 {{:process 2, :type :invoke, :f :read, :value [1 nil]}}
 {{:process 2, :type :ok, :f :read, :value [1 2]}}]"#
    )
}

#[test]
fn independent_history_checks_per_key() {
    let ok = check_edn(
        &independent_history("3"),
        ModelKind::CasRegister,
        Val::Int(0),
        NilRead::Any,
        true,
    );
    assert_eq!(ok.verdict, Verdict::Valid, "{ok:?}");
    assert!(ok.independent && ok.partitioned);
    assert_eq!(ok.keys, 2);
    let keys: Vec<_> = ok
        .witness
        .unwrap()
        .iter()
        .map(|w| w.key.clone().unwrap())
        .collect();
    assert_eq!(keys, ["1", "2"]);

    let bad = check_edn(
        &independent_history("0"),
        ModelKind::CasRegister,
        Val::Int(0),
        NilRead::Any,
        true,
    );
    assert_eq!(bad.verdict, Verdict::Invalid);
    let c = bad.counterexample.unwrap();
    assert_eq!(c.key.as_deref(), Some("2"));
    assert_eq!(c.unplaceable.output, json!(0));
    assert_eq!(c.state, "3");
}

#[test]
fn independent_splits_models_that_span_keys_too() {
    // Each independent key holds its own multi-register.
    let edn = r#"[{:process 0, :type :invoke, :f :txn, :value [7 [[:write :x 1]]]}
 {:process 0, :type :ok, :f :txn, :value [7 [[:write :x 1]]]}
 {:process 1, :type :invoke, :f :txn, :value [8 [[:read :x nil]]]}
 {:process 1, :type :ok, :f :txn, :value [8 [[:read :x 0]]]}]"#;
    let r = check_edn(
        edn,
        ModelKind::MultiRegister,
        Val::Int(0),
        NilRead::Any,
        true,
    );
    assert_eq!(r.verdict, Verdict::Valid, "{r:?}");
    assert_eq!(r.keys, 2);
    // Checked as one multi-register, the read of x = 0 after x = 1 is a violation.
    let whole = edn.replace(":value [8 ", ":value [7 ");
    assert_ne!(whole, edn);
    let r = check_edn(
        &whole,
        ModelKind::MultiRegister,
        Val::Int(0),
        NilRead::Any,
        true,
    );
    assert_eq!(r.verdict, Verdict::Invalid);
}

#[test]
fn independent_rejects_plain_values() {
    let calls = pair(parse_edn_history(REGISTER_NIL_READ, "plain.edn").unwrap()).unwrap();
    let options = CheckOptions {
        independent: true,
        ..CheckOptions::default()
    };
    let err = check_kind(ModelKind::CasRegister, Some(Val::Int(0)), &calls, &options)
        .unwrap_err()
        .to_string();
    assert!(err.contains("jepsen.independent"), "{err}");
}

/// A generated keyed history rewritten as jepsen.independent writes it.
fn as_independent(ops: Vec<Op>) -> Vec<Op> {
    ops.into_iter()
        .map(|mut op| {
            if let Some(key) = op.key.take() {
                op.value = json!([key, op.value]);
            }
            op
        })
        .collect()
}

#[test]
fn generated_independent_history_gets_the_keyed_verdict() {
    let spec = GenSpec {
        ops: 3000,
        processes: 8,
        keys: 12,
        info_rate: 0.02,
        appends: false,
        seed: 13,
    };
    let keyed = linearizable_history(&spec);
    let options = CheckOptions {
        independent: true,
        ..CheckOptions::default()
    };
    let calls = pair(as_independent(keyed.clone())).unwrap();
    assert!(calls.iter().all(|c| c.key.is_none()));
    let r = check_kind(ModelKind::CasRegister, None, &calls, &options).unwrap();
    assert_eq!(r.verdict, Verdict::Valid);
    let keyed_calls = pair(keyed.clone()).unwrap();
    let by_key = check_kind(ModelKind::Kv, None, &keyed_calls, &CheckOptions::default()).unwrap();
    assert_eq!(r.keys, by_key.keys);

    // Corrupt one completed read that saw a value: both checks must now fail, on that key.
    let mut broken = keyed;
    let at = broken
        .iter()
        .position(|o| o.kind == checker::OpType::Ok && o.f == "read" && o.value.is_i64())
        .expect("the generator reads values");
    broken[at].value = json!(99);
    let key = broken[at].key.clone();
    let calls = pair(as_independent(broken)).unwrap();
    let r = check_kind(ModelKind::CasRegister, None, &calls, &options).unwrap();
    assert_eq!(r.verdict, Verdict::Invalid);
    assert_eq!(r.counterexample.unwrap().key, key);
}

#[test]
fn hand_written_independent_file_is_valid_per_key_under_knossos_semantics() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/independent-cas.edn");
    let text = std::fs::read_to_string(&path).unwrap();
    let any = check_edn(
        &text,
        ModelKind::CasRegister,
        Val::Int(0),
        NilRead::Any,
        true,
    );
    assert_eq!(any.verdict, Verdict::Valid, "{any:?}");
    assert_eq!(any.keys, 3);
    // Key 3's first read returned nil from 0: only Knossos's meaning accepts it.
    let value = check_edn(
        &text,
        ModelKind::CasRegister,
        Val::Int(0),
        NilRead::Value,
        true,
    );
    assert_eq!(value.verdict, Verdict::Invalid);
    assert_eq!(value.counterexample.unwrap().key.as_deref(), Some("3"));
}
