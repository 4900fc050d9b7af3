//! `spec.podFailurePolicy`: the first rule matching a failed pod decides whether the pod fails
//! the whole Job (FailJob), is not counted against backoffLimit (Ignore) or is counted as
//! usual (Count).

use k8s_openapi::api::batch::v1::{PodFailurePolicy, PodFailurePolicyRule};
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use kube::ResourceExt;

#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The Job fails; the message is the FailureTarget/Failed condition's.
    FailJob(String),
    Ignore,
    Count,
}

/// What the policy says about a failed pod; `Count` when no rule matches.
pub fn judge(policy: Option<&PodFailurePolicy>, pod: &Pod) -> Verdict {
    let Some(policy) = policy else {
        return Verdict::Count;
    };
    for (index, rule) in policy.rules.iter().enumerate() {
        let Some(matched) = rule_matches(rule, pod) else {
            continue;
        };
        return match rule.action.as_str() {
            "FailJob" => {
                Verdict::FailJob(format!("{matched} matching FailJob rule at index {index}"))
            }
            "Ignore" => Verdict::Ignore,
            // Count, and FailIndex (backoffLimitPerIndex is not supported) count as usual.
            _ => Verdict::Count,
        };
    }
    Verdict::Count
}

/// The start of the condition message when `rule` matches `pod`.
fn rule_matches(rule: &PodFailurePolicyRule, pod: &Pod) -> Option<String> {
    let name = format!("{}/{}", pod.namespace().unwrap_or_default(), pod.name_any());
    if let Some(on_exit) = &rule.on_exit_codes {
        let status = pod.status.as_ref()?;
        // Init containers first, as the kubelet runs them first.
        let containers = status
            .init_container_statuses
            .iter()
            .flatten()
            .chain(status.container_statuses.iter().flatten());
        for container in containers {
            if on_exit
                .container_name
                .as_ref()
                .is_some_and(|wanted| wanted != &container.name)
            {
                continue;
            }
            let Some(code) = exit_code(container) else {
                continue;
            };
            // Successful containers never match, whatever the operator.
            if code == 0 {
                continue;
            }
            let listed = on_exit.values.contains(&code);
            let hit = match on_exit.operator.as_str() {
                "In" => listed,
                "NotIn" => !listed,
                _ => false,
            };
            if hit {
                return Some(format!(
                    "Container {} for pod {name} failed with exit code {code}",
                    container.name
                ));
            }
        }
        return None;
    }
    for wanted in rule.on_pod_conditions.iter().flatten() {
        // The API server defaults the status to True; an older object may lack it.
        let status = Some(wanted.status.as_str())
            .filter(|s| !s.is_empty())
            .unwrap_or("True");
        let present = pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .into_iter()
            .flatten()
            .any(|c| c.type_ == wanted.type_ && c.status == status);
        if present {
            return Some(format!("Pod {name} has condition {}", wanted.type_));
        }
    }
    None
}

fn exit_code(container: &ContainerStatus) -> Option<i32> {
    container
        .state
        .as_ref()
        .and_then(|s| s.terminated.as_ref())
        .map(|t| t.exit_code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy(rules: serde_json::Value) -> PodFailurePolicy {
        serde_json::from_value(json!({ "rules": rules })).unwrap()
    }

    fn failed_pod(exit: i32, conditions: serde_json::Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "ns"},
            "status": {
                "phase": "Failed",
                "conditions": conditions,
                "containerStatuses": [
                    {"name": "side", "image": "i", "imageID": "", "ready": false, "restartCount": 0,
                     "state": {"terminated": {"exitCode": 0}}},
                    {"name": "main", "image": "i", "imageID": "", "ready": false, "restartCount": 0,
                     "state": {"terminated": {"exitCode": exit}}}
                ]
            }
        }))
        .unwrap()
    }

    #[test]
    fn first_matching_rule_wins() {
        let p = policy(json!([
            {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]},
            {"action": "FailJob", "onExitCodes": {"containerName": "main", "operator": "In", "values": [42]}},
            {"action": "Count", "onExitCodes": {"operator": "NotIn", "values": [1]}}
        ]));
        assert_eq!(
            judge(Some(&p), &failed_pod(42, json!([]))),
            Verdict::FailJob(
                "Container main for pod ns/p failed with exit code 42 matching FailJob rule at index 1"
                    .into()
            )
        );
        let disrupted = json!([{"type": "DisruptionTarget", "status": "True"}]);
        assert_eq!(judge(Some(&p), &failed_pod(42, disrupted)), Verdict::Ignore);
        assert_eq!(judge(Some(&p), &failed_pod(1, json!([]))), Verdict::Count);
    }

    #[test]
    fn zero_exit_codes_never_match_not_in() {
        let p = policy(json!([
            {"action": "FailJob", "onExitCodes": {"containerName": "side", "operator": "NotIn", "values": [5]}}
        ]));
        assert_eq!(judge(Some(&p), &failed_pod(3, json!([]))), Verdict::Count);
        assert_eq!(judge(None, &failed_pod(3, json!([]))), Verdict::Count);
    }

    #[test]
    fn pod_condition_rule_message() {
        let p = policy(json!([
            {"action": "FailJob", "onPodConditions": [{"type": "ConfigIssue", "status": "True"}]}
        ]));
        let pod = failed_pod(1, json!([{"type": "ConfigIssue", "status": "True"}]));
        assert_eq!(
            judge(Some(&p), &pod),
            Verdict::FailJob(
                "Pod ns/p has condition ConfigIssue matching FailJob rule at index 0".into()
            )
        );
    }
}
