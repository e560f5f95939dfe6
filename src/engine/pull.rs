//! An engine's pull stream folded into a job's Progress and Message: each layer counts for an
//! equal share, a downloading layer for the fraction of its bytes already here.

/// One layer (or config blob) the engine reported.
#[derive(Debug)]
struct Layer {
    id: String,
    done: bool,
    current: u64,
    total: u64,
}

/// The layers of one pull, and what was last reported.
#[derive(Debug, Default)]
pub(super) struct PullProgress {
    layers: Vec<Layer>,
    last_reported: Option<(u64, usize, usize)>,
}

/// Statuses after which a layer needs nothing more from the registry.
const FINISHED: [&str; 3] = ["Pull complete", "Already exists", "Download complete"];

fn megabytes(bytes: u64) -> String {
    // One decimal of a megabyte is all a progress line needs.
    #[allow(clippy::cast_precision_loss)]
    let mb = bytes as f64 / 1_000_000.0;
    format!("{mb:.1} MB")
}

impl PullProgress {
    /// Takes one line of the engine's stream (`id`, `status`, `progressDetail`); returns the
    /// job's new Progress and Message when the whole percent or the current layer changed, so
    /// a fast stream does not flood the bus.
    pub(super) fn update(
        &mut self,
        id: &str,
        status: &str,
        current: Option<i64>,
        total: Option<i64>,
    ) -> Option<(f64, String)> {
        // Docker names the tag in "Pulling from ..." lines; layers are 12-hex-digit ids.
        if id.len() < 12 || status.starts_with("Pulling from") {
            return None;
        }
        let index = match self.layers.iter().position(|l| l.id == id) {
            Some(i) => i,
            None => {
                self.layers.push(Layer { id: id.to_owned(), done: false, current: 0, total: 0 });
                self.layers.len() - 1
            }
        };
        let layer = &mut self.layers[index];
        if FINISHED.contains(&status) {
            layer.done = true;
        } else if status == "Downloading" {
            if let (Some(c), Some(t)) = (current, total) {
                layer.total = u64::try_from(t).unwrap_or(0);
                layer.current = u64::try_from(c).unwrap_or(0).min(layer.total);
            }
        }
        let n = self.layers.len();
        #[allow(clippy::cast_precision_loss)]
        let share = |l: &Layer| match (l.done, l.total) {
            (true, _) => 1.0,
            (false, 0) => 0.0,
            (false, t) => l.current as f64 / t as f64,
        };
        #[allow(clippy::cast_precision_loss)]
        let fraction = self.layers.iter().map(share).sum::<f64>() / n as f64;
        let (k, busy) = match self.layers.iter().position(|l| !l.done) {
            Some(i) => (i + 1, Some(&self.layers[i])),
            None => (n, None),
        };
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let percent = (fraction * 100.0).floor() as u64;
        if self.last_reported == Some((percent, k, n)) {
            return None;
        }
        self.last_reported = Some((percent, k, n));
        let mut message = format!("pulling layer {k}/{n}");
        if let Some(l) = busy.filter(|l| l.total > 0) {
            message.push_str(&format!(" ({} of {})", megabytes(l.current), megabytes(l.total)));
        }
        Some((fraction, message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Line = (&'static str, &'static str, Option<i64>, Option<i64>);

    fn feed(lines: &[Line]) -> Vec<Option<(f64, String)>> {
        let mut p = PullProgress::default();
        lines.iter().map(|(id, st, c, t)| p.update(id, st, *c, *t)).collect()
    }

    #[test]
    fn podman_single_layer_pull_reports_bytes_then_completion() {
        // As podman 4.3's compat API printed it for a 269.6 MB layer and its config blob.
        let got = feed(&[
            ("32e62611dff1", "Pulling fs layer", None, None),
            ("32e62611dff1", "Downloading", Some(136_260_484), Some(269_582_879)),
            ("32e62611dff1", "Downloading", Some(136_300_000), Some(269_582_879)),
            ("32e62611dff1", "Download complete", None, None),
            ("007c060db3a8", "Pulling fs layer", None, None),
            ("007c060db3a8", "Download complete", None, None),
        ]);
        assert_eq!(got[0], Some((0.0, "pulling layer 1/1".to_owned())));
        let (fraction, message) = got[1].clone().unwrap_or_default();
        assert!((fraction - 0.505).abs() < 0.01, "{fraction}");
        assert_eq!(message, "pulling layer 1/1 (136.3 MB of 269.6 MB)");
        assert_eq!(got[2], None, "the same whole percent is not reported twice");
        assert_eq!(got[3], Some((1.0, "pulling layer 1/1".to_owned())));
        assert_eq!(got[4], Some((0.5, "pulling layer 2/2".to_owned())));
        assert_eq!(got[5], Some((1.0, "pulling layer 2/2".to_owned())));
    }

    #[test]
    fn docker_lines_without_layer_ids_are_ignored() {
        let got = feed(&[
            ("latest", "Pulling from atomic-test/app", None, None),
            ("", "Digest: sha256:abc", None, None),
            ("aaaaaaaaaaaa", "Already exists", None, None),
            ("bbbbbbbbbbbb", "Downloading", Some(-5), Some(10)),
        ]);
        assert_eq!(got[0], None);
        assert_eq!(got[1], None);
        assert_eq!(got[2], Some((1.0, "pulling layer 1/1".to_owned())));
        assert_eq!(got[3], Some((0.5, "pulling layer 2/2 (0.0 MB of 0.0 MB)".to_owned())));
    }
}
