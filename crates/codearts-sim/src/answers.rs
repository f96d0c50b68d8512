//! The body of a healthy statistics-status answer, as a pure function of (repository, time).
//!
//! `Varied` answers follow a clock: every [`CYCLE_SECS`] a repository's statistics run is queued
//! (`waiting`), runs (`active`) and ends (`finish`, sometimes `failed`), with `updated_at` moving
//! at each step; quotas run out and reset every [`QUOTA_WINDOW_SECS`]. Repositories are shifted
//! in phase so that at any moment some are in each state. A few never ran statistics (`event`
//! missing or `null`); two ran it days ago and never since (`infra/terraform-modules`, two days;
//! `iot/telemetry-collector`, nine), so their last push is far ahead of their statistics, and
//! they could start a run at any moment (no quota used up).
//!
//! Some answers are typed loosely, as the official SDK decodes leniently
//! (`huaweicloudsdkcore/client.py`, `_deserialize_primitive` converts with `int(…)`, `str(…)`,
//! `bool(…)`): `reason` as a string (`"2"`), event ids as strings (`"18231"`), `can_statistics`
//! as the string `"true"`, and `status` as the number `0` while a run waits. `can_statistics` is
//! never sent as the string `"false"`: the SDK turns it into `bool("false") == True`, a plainly
//! wrong answer no client should be asked to reproduce.

use serde_json::{json, Value};

use super::Answers;

/// One statistics run per repository every five minutes.
pub(crate) const CYCLE_SECS: i64 = 300;
/// Seconds after the start of a cycle at which a run leaves `waiting`.
const ACTIVE_AT: i64 = 60;
/// Seconds after the start of a cycle at which a run ends.
const FINISHED_AT: i64 = 135;
/// Quotas are used up and reset every fifteen minutes.
pub(crate) const QUOTA_WINDOW_SECS: i64 = 900;
/// Timestamps are sent in China Standard Time, like the API's own examples.
const OFFSET_SECS: i64 = 8 * 3600;

/// `reason` by (repository, quota window): mostly 0, each used-up value somewhere at any time.
const REASONS: [u8; 8] = [0, 1, 0, 2, 0, 3, 0, 0];
const BRANCHES: [&str; 8] = [
    "master",
    "master",
    "master",
    "master",
    "main",
    "main",
    "develop",
    "release/2025.06",
];
const USERS: [u32; 5] = [8_412_115, 8_412_301, 9_003_772, 9_117_640, 10_245_881];

/// The statistics-status body of the repository at `index` (id `id`) at `unix_seconds`.
pub(crate) fn statistics_status(index: u32, id: u32, unix_seconds: i64, answers: Answers) -> Value {
    match answers {
        Answers::Uniform => uniform(id, unix_seconds),
        Answers::Varied => varied(index, id, unix_seconds),
        Answers::Scenarios => super::scenarios::status_body(index, id),
    }
}

/// Every field always present and of one width, so every answer has the same size.
fn uniform(id: u32, now: i64) -> Value {
    let cycle_start = now - now.rem_euclid(CYCLE_SECS);
    let event_id = 1_000_000 + cycle_start.div_euclid(CYCLE_SECS).rem_euclid(1_000_000);
    uniform_body(
        id,
        event_id,
        "finish",
        cycle_start,
        cycle_start + FINISHED_AT,
    )
}

/// A uniform answer with its event (created and updated at whole seconds): a statistics run can
/// start once the event is finished, and no quota is used up.
pub(crate) fn uniform_body(
    id: u32,
    event_id: i64,
    status: &str,
    created: i64,
    updated: i64,
) -> Value {
    json!({
        "can_statistics": status == "finish",
        "reason": 0,
        "event": {
            "id": event_id,
            "user_id": USERS[0],
            "project_id": id,
            "branch": "master",
            "status": status,
            "stat_date": stat_date(created),
            "created_at": timestamp(created, None),
            "updated_at": timestamp(updated, None),
        },
    })
}

/// How a repository's answers look, fixed by its position in the list.
struct Profile {
    event: EventShape,
    reason_as_string: bool,
    fractional_seconds: bool,
    failed_runs: FailedRuns,
    /// `id` and `user_id` of the event sent as strings.
    ids_as_strings: bool,
    /// `can_statistics: true` sent as `"true"` (`false` stays a boolean, see the module doc).
    can_statistics_as_string: bool,
    /// `status` sent as the number `0` while the run waits.
    waiting_as_zero: bool,
    /// The last statistics run ended this many days ago, and none ran since.
    stale_days: Option<i64>,
}

/// How often a statistics run ends in `failed`, a status the API does not document.
#[derive(PartialEq)]
enum FailedRuns {
    Never,
    /// Every other run, by a hash of the run.
    Sometimes,
    /// Every run: two such repositories half a cycle apart keep `failed` visible at all times.
    Always,
}

#[derive(PartialEq)]
enum EventShape {
    Present,
    /// Never ran statistics and says so by leaving `event` out.
    Missing,
    /// Never ran statistics and says so with `"event": null`.
    Null,
}

impl Profile {
    fn of(index: u32) -> Self {
        Self {
            event: match index % 12 {
                6 => EventShape::Missing,
                11 => EventShape::Null,
                _ => EventShape::Present,
            },
            reason_as_string: index % 7 == 3,
            fractional_seconds: index % 4 == 1,
            failed_runs: match index {
                2 | 7 => FailedRuns::Always,
                _ if index % 5 == 2 => FailedRuns::Sometimes,
                _ => FailedRuns::Never,
            },
            ids_as_strings: index % 12 == 3,
            can_statistics_as_string: index % 11 == 8,
            waiting_as_zero: index % 24 == 10,
            stale_days: match index % super::DEMO_REPOSITORIES {
                17 => Some(2),
                43 => Some(9),
                _ => None,
            },
        }
    }
}

fn varied(index: u32, id: u32, now: i64) -> Value {
    let profile = Profile::of(index);
    let seed = mix(u64::from(id));
    // Phases spread a tenth of a cycle apart, plus jitter under a twentieth: at any moment some
    // repository of every ten consecutive ones is in each part of its cycle.
    let phase = i64::from(index % 10) * (CYCLE_SECS / 10) + (seed % 15) as i64;
    let shifted = now + phase;
    let mut cycle = shifted.div_euclid(CYCLE_SECS);
    let into_cycle = shifted.rem_euclid(CYCLE_SECS);
    let mut cycle_start = now - into_cycle;
    let cycle_seed = mix(seed ^ cycle as u64);

    let (status, updated) = if let Some(days) = profile.stale_days {
        // Three in the afternoon (China Standard Time), `days` days ago.
        let local_day = (now + OFFSET_SECS).div_euclid(86_400);
        cycle_start = (local_day - days) * 86_400 - OFFSET_SECS + 15 * 3600;
        cycle = cycle_start.div_euclid(CYCLE_SECS);
        ("finish", cycle_start + FINISHED_AT)
    } else if into_cycle < ACTIVE_AT {
        ("waiting", cycle_start)
    } else if into_cycle < FINISHED_AT {
        ("active", cycle_start + ACTIVE_AT)
    } else if profile.failed_runs == FailedRuns::Always
        || (profile.failed_runs == FailedRuns::Sometimes && cycle_seed.is_multiple_of(2))
    {
        ("failed", cycle_start + FINISHED_AT)
    } else {
        ("finish", cycle_start + FINISHED_AT)
    };
    let window = now.div_euclid(QUOTA_WINDOW_SECS);
    // A repository whose statistics are days old has no quota used up: nobody started a run
    // that could have used it, and a run could start now — the case a "statistics behind the
    // code" alert is for, at any time of day.
    let reason = match profile.stale_days {
        Some(_) => 0,
        None => REASONS[((i64::from(index) * 3 + window).rem_euclid(8)) as usize],
    };
    let running = matches!(status, "waiting" | "active");
    let has_event = profile.event == EventShape::Present;
    let can_statistics = reason == 0 && !(has_event && running);

    let mut body = json!({
        "can_statistics": if can_statistics && profile.can_statistics_as_string {
            json!("true")
        } else {
            json!(can_statistics)
        },
        "reason": if profile.reason_as_string { json!(reason.to_string()) } else { json!(reason) },
    });
    let event = match profile.event {
        EventShape::Missing => return body,
        EventShape::Null => Value::Null,
        EventShape::Present => {
            let millis = profile
                .fractional_seconds
                .then_some((cycle_seed % 1000) as u16);
            let event_id = 18_000 + cycle.rem_euclid(10_000_000) * 64 + i64::from(index % 64);
            let user_id = USERS[(cycle_seed % USERS.len() as u64) as usize];
            let loosely = |number: i64| {
                if profile.ids_as_strings {
                    json!(number.to_string())
                } else {
                    json!(number)
                }
            };
            json!({
                "id": loosely(event_id),
                "user_id": loosely(i64::from(user_id)),
                "project_id": id,
                "branch": BRANCHES[(seed % BRANCHES.len() as u64) as usize],
                "status": if status == "waiting" && profile.waiting_as_zero { json!(0) } else { json!(status) },
                "stat_date": stat_date(cycle_start),
                "created_at": timestamp(cycle_start, millis),
                "updated_at": timestamp(updated, millis),
            })
        }
    };
    if let Value::Object(fields) = &mut body {
        fields.insert("event".to_owned(), event);
    }
    body
}

/// `yyyyMMdd` of `unix_seconds` in China Standard Time.
pub(crate) fn stat_date(unix_seconds: i64) -> String {
    let (year, month, day, _, _, _) = civil(unix_seconds + OFFSET_SECS);
    format!("{year:04}{month:02}{day:02}")
}

/// RFC 3339 with a `+08:00` offset. With `millis` the time is moved back to the previous whole
/// second plus that fraction, so it never lies after `unix_seconds`.
pub(crate) fn timestamp(unix_seconds: i64, millis: Option<u16>) -> String {
    let local = unix_seconds + OFFSET_SECS;
    match millis {
        None => {
            let (y, mo, d, h, mi, s) = civil(local);
            format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}+08:00")
        }
        Some(millis) => {
            let (y, mo, d, h, mi, s) = civil(local - 1);
            format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{millis:03}+08:00")
        }
    }
}

/// (year, month, day, hour, minute, second) of a count of seconds since 1970-01-01T00:00.
///
/// Computed by hand (Howard Hinnant's days-to-civil) because it cannot fail, unlike the
/// checked conversions of `time`, and costs a few integer operations per answer.
pub(crate) fn civil(seconds: i64) -> (i64, u32, u32, u32, u32, u32) {
    let days = seconds.div_euclid(86_400);
    let in_day = seconds.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        month as u32,
        day as u32,
        (in_day / 3600) as u32,
        (in_day % 3600 / 60) as u32,
        (in_day % 60) as u32,
    )
}

/// SplitMix64's finalizer: a cheap, well-spread hash of a number.
pub(crate) fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::fault_at;
    use crate::{DEMO_REPOSITORIES, FIRST_ID};
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    const JUNE_4_2025_08_14_29_UTC: i64 = 1_749_024_869;

    #[test]
    fn repositories_with_days_old_statistics_may_start_a_run_at_any_time_of_day() {
        // Every quota window of a whole day, for both of them.
        for index in [17, 43] {
            let id = FIRST_ID + index;
            for window in 0..(86_400 / QUOTA_WINDOW_SECS) {
                let now = JUNE_4_2025_08_14_29_UTC + window * QUOTA_WINDOW_SECS;
                let body = varied(index, id, now);
                // Sent as a number or (loosely typed on purpose) as its string.
                assert!(
                    [json!(0), json!("0")].contains(&body["reason"]),
                    "{index} at {now}: {}",
                    body["reason"]
                );
                assert!(
                    [json!(true), json!("true")].contains(&body["can_statistics"]),
                    "{index} at {now}: {}",
                    body["can_statistics"]
                );
                assert_eq!(body["event"]["status"], "finish", "{index} at {now}");
            }
        }
    }

    fn healthy_demo_answers(now: i64) -> Vec<Value> {
        (0..DEMO_REPOSITORIES)
            .filter(|&index| fault_at(index).is_none())
            .map(|index| statistics_status(index, FIRST_ID + index, now, Answers::Varied))
            .collect()
    }

    #[test]
    fn timestamps_are_rfc3339_in_china_standard_time() {
        assert_eq!(
            timestamp(JUNE_4_2025_08_14_29_UTC, None),
            "2025-06-04T16:14:29+08:00"
        );
        assert_eq!(
            timestamp(JUNE_4_2025_08_14_29_UTC, Some(7)),
            "2025-06-04T16:14:28.007+08:00"
        );
        assert_eq!(stat_date(JUNE_4_2025_08_14_29_UTC), "20250604");
        // 16:00 UTC is already the next day in Beijing.
        assert_eq!(stat_date(1_749_052_800), "20250605");
    }

    #[test]
    fn civil_dates_match_the_time_crate() {
        for seconds in [0, 951_782_400, 1_709_164_800, 4_102_444_799, -86_400] {
            let t = time::OffsetDateTime::from_unix_timestamp(seconds).unwrap();
            let expected = (
                i64::from(t.year()),
                u32::from(u8::from(t.month())),
                u32::from(t.day()),
                u32::from(t.hour()),
                u32::from(t.minute()),
                u32::from(t.second()),
            );
            assert_eq!(civil(seconds), expected, "at {seconds}");
        }
    }

    #[test]
    fn demo_answers_cover_every_reason_status_and_event_shape_at_any_moment() {
        for step in 0..(QUOTA_WINDOW_SECS * 2 / 7) {
            let now = JUNE_4_2025_08_14_29_UTC + step * 7;
            let answers = healthy_demo_answers(now);
            let reasons: BTreeSet<String> =
                answers.iter().map(|a| a["reason"].to_string()).collect();
            for reason in ["0", "1", "2", "3", "\"0\""] {
                assert!(
                    reasons.contains(reason),
                    "no reason {reason} at {now}: {reasons:?}"
                );
            }
            let statuses: BTreeSet<&str> = answers
                .iter()
                .filter_map(|a| a["event"]["status"].as_str())
                .collect();
            assert_eq!(
                statuses,
                BTreeSet::from(["active", "failed", "finish", "waiting"]),
                "at {now}"
            );
            assert!(answers.iter().any(|a| a.get("event").is_none()));
            assert!(answers.iter().any(|a| a.get("event") == Some(&Value::Null)));
            assert!(answers.iter().any(|a| a["can_statistics"] == true));
            assert!(answers.iter().any(|a| a["can_statistics"] == false));
        }
    }

    #[test]
    fn a_run_goes_waiting_active_finish_and_its_updated_at_advances() {
        let index = 0;
        let at = |now| statistics_status(index, FIRST_ID, now, Answers::Varied);
        let mut seen = Vec::new();
        let mut last_updated = String::new();
        let start = JUNE_4_2025_08_14_29_UTC;
        for now in start..start + CYCLE_SECS * 2 {
            let answer = at(now);
            let status = answer["event"]["status"].as_str().unwrap().to_owned();
            let updated = answer["event"]["updated_at"].as_str().unwrap().to_owned();
            if seen.last() != Some(&status) {
                assert!(updated > last_updated, "{updated} after {last_updated}");
                seen.push(status);
            }
            last_updated = updated;
        }
        let cycle: Vec<&str> = seen.iter().map(String::as_str).collect();
        let rotations = [
            ["waiting", "active", "finish"],
            ["active", "finish", "waiting"],
            ["finish", "waiting", "active"],
        ];
        assert!(
            rotations.iter().any(|r| cycle.windows(3).any(|w| w == r)),
            "{cycle:?}"
        );
    }

    #[test]
    fn the_event_belongs_to_the_repository_and_never_lies_in_the_future() {
        let now = JUNE_4_2025_08_14_29_UTC;
        for index in 0..DEMO_REPOSITORIES {
            let answer = statistics_status(index, FIRST_ID + index, now, Answers::Varied);
            let Some(event) = answer.get("event").filter(|e| !e.is_null()) else {
                continue;
            };
            assert_eq!(event["project_id"], FIRST_ID + index);
            let updated = time::OffsetDateTime::parse(
                event["updated_at"].as_str().unwrap(),
                &time::format_description::well_known::Rfc3339,
            )
            .unwrap();
            assert!(updated.unix_timestamp() <= now);
            assert_eq!(event["stat_date"].as_str().unwrap().len(), 8);
        }
    }

    #[test]
    fn uniform_answers_are_healthy_and_all_of_one_size() {
        let sizes: BTreeSet<usize> = (0..10_000u32)
            .map(|index| {
                let now = JUNE_4_2025_08_14_29_UTC + i64::from(index) * 13;
                let answer = statistics_status(index, FIRST_ID + index, now, Answers::Uniform);
                assert_eq!(answer["reason"], 0);
                assert_eq!(answer["event"]["status"], "finish");
                answer.to_string().len()
            })
            .collect();
        assert_eq!(sizes.len(), 1, "{sizes:?}");
    }

    proptest! {
        #[test]
        fn any_repository_at_any_time_gets_an_object(
            index in any::<u32>(),
            id in any::<u32>(),
            now in -100_000_000_000i64..100_000_000_000,
        ) {
            for answers in [Answers::Varied, Answers::Uniform] {
                prop_assert!(statistics_status(index, id, now, answers).is_object());
            }
        }
    }
}
