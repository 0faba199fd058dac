//! Retention: which snapshots a policy keeps, and why.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::backend::FileKind;
use crate::error::{ErrorKind, Result};
use crate::id::Id;
use crate::repository::Repository;
use crate::snapshot::Snapshot;

/// A person's retention setting. Counts of 0 keep nothing by that rule;
/// a policy with no rule keeps everything. Applied per device.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RetentionPolicy {
    /// The newest N snapshots.
    pub keep_last: u32,
    /// The newest snapshot of each of the last N hours that have one.
    pub keep_hourly: u32,
    pub keep_daily: u32,
    /// Weeks start on Monday.
    pub keep_weekly: u32,
    pub keep_monthly: u32,
    pub keep_yearly: u32,
    /// Every snapshot younger than this (serialized as whole seconds).
    #[serde(with = "opt_secs", skip_serializing_if = "Option::is_none")]
    pub keep_within: Option<Duration>,
    /// Calendar buckets (hours, days, …) are taken in UTC shifted by this
    /// many minutes, e.g. the person's time zone.
    pub utc_offset_minutes: i32,
}

mod opt_secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_u64(d.as_secs()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<u64>::deserialize(d)?.map(Duration::from_secs))
    }
}

impl RetentionPolicy {
    /// Whether no rule is set (such a policy keeps everything).
    pub fn is_empty(&self) -> bool {
        self.keep_last == 0
            && self.keep_hourly == 0
            && self.keep_daily == 0
            && self.keep_weekly == 0
            && self.keep_monthly == 0
            && self.keep_yearly == 0
            && self.keep_within.is_none()
    }
}

/// One snapshot in a [`ForgetPlan`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedSnapshot {
    pub id: Id,
    /// Unix milliseconds.
    pub time: i64,
    pub device_id: String,
    /// Why it is kept (`last`, `hourly`, `daily`, `weekly`, `monthly`,
    /// `yearly`, `within`, `latest`, `no policy`); empty when removed.
    pub reasons: Vec<String>,
}

/// What a policy keeps and removes, newest first in each list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ForgetPlan {
    pub keep: Vec<PlannedSnapshot>,
    pub remove: Vec<PlannedSnapshot>,
}

/// Civil (year, month) from days since the epoch (Hinnant).
fn year_month(days: i64) -> (i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month)
}

fn buckets(time_ms: i64, offset_minutes: i32) -> [i64; 5] {
    let secs = time_ms.div_euclid(1000) + i64::from(offset_minutes) * 60;
    let hour = secs.div_euclid(3600);
    let day = secs.div_euclid(86_400);
    // 1970-01-01 was a Thursday; +3 makes weeks start on Monday.
    let week = (day + 3).div_euclid(7);
    let (year, month) = year_month(day);
    [hour, day, week, year * 12 + month, year]
}

impl ForgetPlan {
    /// Applies `policy` to `snapshots` at time `now_ms` (Unix ms), per
    /// device. Pure: the same inputs always give the same plan.
    ///
    /// The newest snapshot of each device is always kept ("latest"), so no
    /// policy can empty a device's history; an empty policy keeps everything.
    pub fn compute(snapshots: &[(Id, Snapshot)], policy: &RetentionPolicy, now_ms: i64) -> ForgetPlan {
        let mut by_device: BTreeMap<&str, Vec<(&Id, &Snapshot)>> = BTreeMap::new();
        for (id, snap) in snapshots {
            by_device.entry(snap.device_id.as_str()).or_default().push((id, snap));
        }
        let mut plan = ForgetPlan::default();
        for (_, mut list) in by_device {
            list.sort_by(|(a_id, a), (b_id, b)| b.time.cmp(&a.time).then(b_id.cmp(a_id)));
            let mut reasons: Vec<Vec<String>> = vec![Vec::new(); list.len()];
            if policy.is_empty() {
                for r in &mut reasons {
                    r.push("no policy".into());
                }
            }
            for r in reasons.iter_mut().take(policy.keep_last as usize) {
                r.push("last".into());
            }
            let rules = [
                (policy.keep_hourly, "hourly"),
                (policy.keep_daily, "daily"),
                (policy.keep_weekly, "weekly"),
                (policy.keep_monthly, "monthly"),
                (policy.keep_yearly, "yearly"),
            ];
            for (rule, (count, name)) in rules.iter().enumerate() {
                let mut left = *count;
                let mut last_bucket = None;
                for (i, (_, snap)) in list.iter().enumerate() {
                    if left == 0 {
                        break;
                    }
                    let bucket = buckets(snap.time, policy.utc_offset_minutes)[rule];
                    if last_bucket != Some(bucket) {
                        last_bucket = Some(bucket);
                        reasons[i].push((*name).into());
                        left -= 1;
                    }
                }
            }
            if let Some(within) = policy.keep_within {
                let cutoff = now_ms.saturating_sub(i64::try_from(within.as_millis()).unwrap_or(i64::MAX));
                for (i, (_, snap)) in list.iter().enumerate() {
                    if snap.time >= cutoff {
                        reasons[i].push("within".into());
                    }
                }
            }
            if let Some(first) = reasons.first_mut() {
                if first.is_empty() {
                    first.push("latest".into());
                }
            }
            for ((id, snap), reasons) in list.into_iter().zip(reasons) {
                let planned = PlannedSnapshot {
                    id: *id,
                    time: snap.time,
                    device_id: snap.device_id.clone(),
                    reasons,
                };
                if planned.reasons.is_empty() {
                    plan.remove.push(planned);
                } else {
                    plan.keep.push(planned);
                }
            }
        }
        let newest_first = |a: &PlannedSnapshot, b: &PlannedSnapshot| b.time.cmp(&a.time).then(b.id.cmp(&a.id));
        plan.keep.sort_by(newest_first);
        plan.remove.sort_by(newest_first);
        plan
    }

    /// Removes the snapshot files in `remove` (their data stays until
    /// `prune`). Returns how many were removed; ones already gone count as
    /// removed.
    ///
    /// # Errors
    /// Backend errors other than `NotFound`.
    pub fn apply(&self, repo: &Repository) -> Result<u64> {
        let mut removed = 0;
        for snap in &self.remove {
            match repo.backend().remove(FileKind::Snapshot, &snap.id) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == ErrorKind::NotFound => removed += 1,
                Err(e) => return Err(e),
            }
        }
        Ok(removed)
    }
}

/// Plans which snapshots `policy` keeps at `now_ms` (Unix ms). Nothing is
/// removed until [`ForgetPlan::apply`].
///
/// # Errors
/// Backend errors; `Integrity` when a snapshot file is damaged (a damaged
/// snapshot cannot be dated, so no plan is made; `check` names it).
pub fn forget(repo: &Repository, policy: &RetentionPolicy, now_ms: i64) -> Result<ForgetPlan> {
    Ok(ForgetPlan::compute(&repo.snapshots()?, policy, now_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;
    const DAY: i64 = 24 * HOUR;
    /// 2024-01-01T00:00:00Z, a Monday.
    const T0: i64 = 1_704_067_200_000;

    fn snap(n: u8, time: i64, device: &str) -> (Id, Snapshot) {
        (
            Id::from_bytes([n; 32]),
            Snapshot {
                time,
                device_name: String::new(),
                device_id: device.into(),
                roots: vec![],
                files: 0,
                bytes: 0,
                repaired_from: None,
            },
        )
    }

    fn kept(plan: &ForgetPlan) -> Vec<(u8, Vec<&str>)> {
        plan.keep
            .iter()
            .map(|p| (p.id.as_bytes()[0], p.reasons.iter().map(String::as_str).collect()))
            .collect()
    }

    #[test]
    fn calendar_buckets() {
        // 2024-01-01 is a Monday: same week as Sunday 2024-01-07, not as
        // Sunday 2023-12-31.
        let [_, _, w0, m0, y0] = buckets(T0, 0);
        assert_eq!(buckets(T0 + 6 * DAY + 23 * HOUR, 0)[2], w0);
        assert_eq!(buckets(T0 - 1, 0)[2], w0 - 1);
        assert_eq!(y0, 2024);
        assert_eq!(m0, 2024 * 12 + 1);
        assert_eq!(buckets(T0 - 1, 0)[3], 2023 * 12 + 12);
        // A +60 min offset moves 23:30 UTC into the next local day.
        let late = T0 + 23 * HOUR + 30 * 60_000;
        assert_eq!(buckets(late, 60)[1], buckets(T0, 0)[1] + 1);
    }

    #[test]
    fn daily_weekly_and_last_with_reasons() {
        // Two snapshots a day for 10 days.
        let snaps: Vec<_> = (0..20u8)
            .map(|i| snap(i, T0 + i64::from(i / 2) * DAY + i64::from(i % 2) * 12 * HOUR, "d1"))
            .collect();
        let policy = RetentionPolicy {
            keep_last: 2,
            keep_daily: 3,
            keep_weekly: 2,
            ..RetentionPolicy::default()
        };
        let plan = ForgetPlan::compute(&snaps, &policy, T0 + 11 * DAY);
        assert_eq!(
            kept(&plan),
            vec![
                (19, vec!["last", "daily", "weekly"]),
                (18, vec!["last"]),
                (17, vec!["daily"]),
                (15, vec!["daily"]),
                // Sunday 2024-01-07 12:00, the newest of the first week.
                (13, vec!["weekly"]),
            ]
        );
        assert_eq!(plan.remove.len(), 15);
        assert!(plan.remove.iter().all(|p| p.reasons.is_empty()));
    }

    #[test]
    fn monthly_yearly_and_within() {
        let snaps = vec![
            snap(1, T0 - 400 * DAY, "d"),
            snap(2, T0 - 40 * DAY, "d"),
            snap(3, T0 - 35 * DAY, "d"),
            snap(4, T0 - 2 * DAY, "d"),
            snap(5, T0 - HOUR, "d"),
        ];
        let policy = RetentionPolicy {
            keep_monthly: 2,
            keep_yearly: 5,
            keep_within: Some(Duration::from_secs(3 * 24 * 3600)),
            ..RetentionPolicy::default()
        };
        let plan = ForgetPlan::compute(&snaps, &policy, T0);
        assert_eq!(
            kept(&plan),
            vec![
                (5, vec!["monthly", "yearly", "within"]),
                (4, vec!["within"]),
                (3, vec!["monthly"]),
                (1, vec!["yearly"]),
            ]
        );
        assert_eq!(plan.remove.iter().map(|p| p.id.as_bytes()[0]).collect::<Vec<_>>(), [2]);
    }

    #[test]
    fn devices_are_separate_and_the_latest_always_stays() {
        let snaps = vec![
            snap(1, T0 - 30 * DAY, "laptop"),
            snap(2, T0 - 20 * DAY, "laptop"),
            snap(3, T0 - 10 * DAY, "desktop"),
            snap(4, T0 - 5 * DAY, "laptop"),
        ];
        // Nothing within a day: without the guard everything would go.
        let policy = RetentionPolicy {
            keep_within: Some(Duration::from_secs(3600)),
            ..RetentionPolicy::default()
        };
        let plan = ForgetPlan::compute(&snaps, &policy, T0);
        assert_eq!(kept(&plan), vec![(4, vec!["latest"]), (3, vec!["latest"])]);
        assert_eq!(plan.remove.len(), 2);

        // keep_last 1 per device, not overall.
        let policy = RetentionPolicy {
            keep_last: 1,
            ..RetentionPolicy::default()
        };
        let plan = ForgetPlan::compute(&snaps, &policy, T0);
        assert_eq!(kept(&plan), vec![(4, vec!["last"]), (3, vec!["last"])]);

        // No rule at all keeps everything.
        let plan = ForgetPlan::compute(&snaps, &RetentionPolicy::default(), T0);
        assert_eq!(plan.keep.len(), 4);
        assert!(plan.remove.is_empty());
    }

    #[test]
    fn policy_serde() {
        let policy = RetentionPolicy {
            keep_daily: 7,
            keep_within: Some(Duration::from_secs(86_400)),
            ..RetentionPolicy::default()
        };
        let json = serde_json::to_string(&policy).unwrap();
        assert!(json.contains(r#""keep_within":86400"#), "{json}");
        assert_eq!(serde_json::from_str::<RetentionPolicy>(&json).unwrap(), policy);
        let partial: RetentionPolicy = serde_json::from_str(r#"{"keep_last":3}"#).unwrap();
        assert_eq!(partial.keep_last, 3);
        assert_eq!(partial.keep_within, None);
    }
}
