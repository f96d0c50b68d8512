//! Property tests: arbitrary input from the network or the config file never panics, valid
//! answers round-trip to the right metric values, and every label value survives encoding
//! (`promtool` reads them back in the end-to-end tier).

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use crate::helpers::{samples, value};
use codearts_repo_exporter::ApiErrorBody;
use codearts_repo_exporter::RepositoryResult;
use codearts_repo_exporter::StatisticsStatus;
use codearts_repo_exporter::{bounded, Families, RepositoryText, MAX_LABEL_LEN};
use codearts_repo_exporter::{Config, Repository, RepositoryId};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(serde_json::Value::from),
        ".{0,20}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(serde_json::Value::Array),
            prop::collection::hash_map(
                prop_oneof![
                    Just("can_statistics".to_owned()),
                    Just("reason".to_owned()),
                    Just("event".to_owned()),
                    Just("updated_at".to_owned()),
                    Just("status".to_owned()),
                    "[a-z_]{1,10}",
                ],
                inner,
                0..8
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

fn render(result: RepositoryResult) -> String {
    let now = UNIX_EPOCH + Duration::from_secs(2_000_000_000);
    let text = RepositoryText::new(vec![result], now, Families::ALL);
    String::from_utf8(text.flatten().collect()).expect("the exposition is UTF-8")
}

fn ok_result(name: Option<String>, status: StatisticsStatus) -> RepositoryResult {
    let repository = Repository::new(RepositoryId::new(42).unwrap(), name.map(Arc::from));
    RepositoryResult::succeeded(repository, status, Duration::from_millis(10))
}

proptest! {
    // The failures found so far are replayed from properties.proptest-regressions beside this
    // file (proptest would otherwise look for them under the folder of main.rs).
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn arbitrary_bytes_never_panic_the_parsers(body in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = StatisticsStatus::from_body(&body);
        let _ = ApiErrorBody::parse(&body);
    }

    #[test]
    fn arbitrary_json_never_panics_and_renders(value in json_value()) {
        let body = serde_json::to_vec(&value).unwrap();
        let _ = ApiErrorBody::parse(&body);
        if let Some(status) = StatisticsStatus::from_body(&body) {
            let text = render(ok_result(Some("a/b".into()), status));
            samples(&text);
        }
    }

    #[test]
    fn valid_answers_round_trip_to_metric_values(
        can in any::<bool>(),
        reason in 0i64..=3,
        reason_as_text in any::<bool>(),
        status in prop::sample::select(vec!["waiting", "active", "finish", "failed", ""]),
        updated in 1_500_000_000i64..1_900_000_000,
        offset_hours in -12i64..=14,
        event_id in 1i64..=2_147_483_647,
    ) {
        let offset = time::UtcOffset::from_whole_seconds((offset_hours * 3600) as i32).unwrap();
        let updated_at = time::OffsetDateTime::from_unix_timestamp(updated)
            .unwrap()
            .to_offset(offset)
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
        let reason_json = if reason_as_text { serde_json::json!(reason.to_string()) } else { serde_json::json!(reason) };
        let body = serde_json::json!({
            "can_statistics": can, "reason": reason_json,
            "event": {"id": event_id, "status": status, "branch": "main", "stat_date": "20250604",
                      "created_at": updated_at, "updated_at": updated_at}
        });
        let parsed = StatisticsStatus::from_body(&serde_json::to_vec(&body).unwrap()).unwrap();
        let text = render(ok_result(None, parsed));
        let id = [("repository_id", "42")];
        prop_assert_eq!(value(&text, "codearts_repo_statistics_can_statistics", &id), Some(if can { 1.0 } else { 0.0 }));
        prop_assert_eq!(value(&text, "codearts_repo_statistics_reason", &id), Some(reason as f64));
        prop_assert_eq!(value(&text, "codearts_repo_statistics_event_id", &id), Some(event_id as f64));
        prop_assert_eq!(value(&text, "codearts_repo_statistics_event_updated_timestamp_seconds", &id), Some(updated as f64));
        prop_assert_eq!(value(&text, "codearts_repo_statistics_event_age_seconds", &id), Some((2_000_000_000 - updated) as f64));
        let state = match status { "waiting" | "active" | "finish" => status, _ => "other" };
        prop_assert_eq!(value(&text, "codearts_repo_statistics_event_status", &[("repository_id", "42"), ("status", state)]), Some(1.0));
    }

    #[test]
    fn any_label_value_survives_encoding(name in "\\PC{0,300}", branch in any::<String>()) {
        let status = StatisticsStatus {
            event: Some(codearts_repo_exporter::StatisticsEvent { branch: Some(branch.clone()), ..Default::default() }),
            ..Default::default()
        };
        let name = if name.is_empty() { None } else { Some(name) };
        let text = render(ok_result(name.clone(), status));
        let all = samples(&text);
        let info = all.iter().find(|s| s.name == "codearts_repo_statistics_event_info").unwrap();
        prop_assert_eq!(&info.labels["branch"], bounded(&branch, MAX_LABEL_LEN));
        if let Some(name) = &name {
            prop_assert_eq!(&info.labels["repository"], bounded(name, MAX_LABEL_LEN));
        }
    }

    #[test]
    fn arbitrary_config_text_never_panics_and_errors_name_a_key(text in "\\PC{0,200}") {
        if let Err(err) = Config::parse(&text, &|_| None) {
            let err = err.to_string();
            // "<key>: <problem>", where the key may itself be the odd text that was written.
            let key = err.split(": ").next().unwrap_or("");
            prop_assert!(!key.is_empty() && err.len() > key.len() + 2, "error without a key: {}", err);
        }
    }

    #[test]
    fn arbitrary_yaml_structures_never_panic_the_loader(value in json_value()) {
        // JSON is YAML: every structure, at every key, must come back as a keyed error or a config.
        let text = serde_json::to_string(&serde_json::json!({"codearts": value, "repositories": [{"id": 1}]})).unwrap();
        if let Err(err) = Config::parse(&text, &|_| None) {
            let err = err.to_string();
            prop_assert!(err.starts_with("codearts") || err.starts_with("config:"), "{}", err);
        }
    }
}
