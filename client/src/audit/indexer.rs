//! The indexer's history and status compared with what the audit verified.

use walrus_codec::BlobId;
use walrus_types::indexer::{BlobStatusView, HealthView, HistoryView};

use super::{Evidence, IndexerComparison, Verdict};

/// The status word and end epoch the indexer should report for `verdict`.
fn expected_status(verdict: &Verdict) -> (&'static str, Option<u32>) {
    match verdict {
        Verdict::Certified { end_epoch, .. } => ("certified", Some(*end_epoch)),
        Verdict::Registered => ("registered", None),
        Verdict::Expired => ("expired", None),
        Verdict::Deleted => ("deleted", None),
        Verdict::Invalid => ("invalid", None),
        Verdict::Unknown => ("unknown", None),
    }
}

pub(super) async fn compare_with_indexer(
    url: &str,
    blob_id: &BlobId,
    evidence: &[Evidence],
    tip: u64,
    verdict: &Verdict,
) -> IndexerComparison {
    let chain_events: Vec<(u64, String, String)> = evidence
        .iter()
        .map(|e| (e.checkpoint, e.tx_digest.clone(), e.kind.clone()))
        .collect();
    let base = url.trim_end_matches('/');
    let fetched = async {
        let indexed: HealthView = reqwest::get(format!("{base}/v1/health"))
            .await?
            .error_for_status()?
            .json()
            .await?;
        let response = reqwest::get(format!("{base}/v1/blobs/{blob_id}/history")).await?;
        let events = if response.status() == reqwest::StatusCode::NOT_FOUND {
            Vec::new()
        } else {
            let history: HistoryView = response.error_for_status()?.json().await?;
            history.events
        };
        let response = reqwest::get(format!("{base}/v1/blobs/{blob_id}")).await?;
        let status = if response.status() == reqwest::StatusCode::NOT_FOUND {
            None
        } else {
            Some(
                response
                    .error_for_status()?
                    .json::<BlobStatusView>()
                    .await?,
            )
        };
        Ok::<_, reqwest::Error>((indexed.checkpoints, events, status))
    }
    .await;
    let mut differences = Vec::new();
    let mut indexed_checkpoints = 0;
    match fetched {
        Err(err) => differences.push(format!("the indexer could not be asked: {err}")),
        Ok((cursor, events, status)) => {
            indexed_checkpoints = cursor;
            if cursor < tip {
                differences.push(format!(
                    "the indexer is behind: {cursor} of {tip} checkpoints indexed"
                ));
            }
            // Compare up to where both have been, in order, duplicates included.
            let upto = cursor.min(tip);
            let expected: Vec<_> = chain_events.iter().filter(|e| e.0 < upto).collect();
            let indexed: Vec<(u64, String, String)> = events
                .into_iter()
                .map(|e| (e.checkpoint, e.tx_digest, e.kind))
                .filter(|e| e.0 < upto)
                .collect();
            let indexed: Vec<_> = indexed.iter().collect();
            if indexed != expected {
                differences.push(format!(
                    "the history differs: the chain has {} events ({}), the indexer {} ({})",
                    expected.len(),
                    describe(&expected),
                    indexed.len(),
                    describe(&indexed)
                ));
            }
            // The status is comparable only when both saw the same checkpoints.
            if cursor == tip {
                let (word, end_epoch) = expected_status(verdict);
                let reported =
                    status.map_or(("unknown", None), |s| (s.status.as_str(), s.end_epoch));
                if reported.0 != word || (end_epoch.is_some() && reported.1 != end_epoch) {
                    differences.push(format!(
                        "the indexer reports {} (end epoch {:?}), the chain {word} (end epoch {end_epoch:?})",
                        reported.0, reported.1
                    ));
                }
            }
        }
    }
    IndexerComparison {
        url: url.to_owned(),
        indexed_checkpoints,
        agrees: differences.is_empty(),
        differences,
    }
}

fn describe(events: &[&(u64, String, String)]) -> String {
    events
        .iter()
        .map(|(checkpoint, tx, kind)| format!("{kind}@{checkpoint} tx {tx}"))
        .collect::<Vec<_>>()
        .join(", ")
}
