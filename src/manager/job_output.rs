//! A job's container output as the caller sees it live (the Job's Output signal): whole UTF-8
//! text per signal, however the engine cut its chunks, and no more than a bound in all.

/// At most this much output is signalled per job; the call's result still carries the tail.
const STREAM_LIMIT: usize = 1 << 20;

/// What was sent so far, and the bytes of a character cut in two by the last chunk.
#[derive(Debug, Default)]
pub(super) struct OutputStream {
    pending: Vec<u8>,
    sent: usize,
}

impl OutputStream {
    /// The text to signal for `chunk`, if any: complete characters only (invalid bytes become
    /// U+FFFD), the start of a cut character kept for the next chunk. Past the limit, nothing
    /// but one last line saying so.
    pub(super) fn next(&mut self, chunk: &[u8]) -> Option<String> {
        if self.sent >= STREAM_LIMIT {
            return None;
        }
        self.pending.extend_from_slice(chunk);
        let keep = incomplete_tail(&self.pending);
        let cut = self.pending.len() - keep;
        let rest = self.pending.split_off(cut);
        let text = String::from_utf8_lossy(&std::mem::replace(&mut self.pending, rest)).into_owned();
        if text.is_empty() {
            return None;
        }
        self.sent += text.len();
        if self.sent >= STREAM_LIMIT {
            return Some(format!("{text}\n[atomicd: live output stops here; the result carries its end]\n"));
        }
        Some(text)
    }
}

/// How many bytes at the end of `bytes` begin a UTF-8 character that is not complete yet.
fn incomplete_tail(bytes: &[u8]) -> usize {
    for back in 1..=3.min(bytes.len()) {
        let b = bytes[bytes.len() - back];
        if b & 0xC0 != 0x80 {
            // The lead byte: how long its character is.
            let len = match b {
                0xC0..=0xDF => 2,
                0xE0..=0xEF => 3,
                0xF0..=0xF7 => 4,
                _ => 1,
            };
            return if len > back { back } else { 0 };
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Chunks as the engine cut them, and what each signals.
    type Case<'a> = (&'a [&'a [u8]], &'a [Option<&'a str>]);

    #[test]
    fn characters_cut_between_chunks_arrive_whole() {
        let table: &[Case] = &[
            (&[b"plain\n"], &[Some("plain\n")]),
            (&["é".as_bytes()], &[Some("é")]),
            (&[&[0xC3], &[0xA9, b'!']], &[None, Some("é!")]),
            (&[&[b'a', 0xE2, 0x82], &[0xAC]], &[Some("a"), Some("€")]),
            (&[&[0xF0, 0x9F], &[0x98], &[0x80, b'x']], &[None, None, Some("😀x")]),
            (&[&[0xFF, b'a']], &[Some("\u{FFFD}a")]),
            (&[b""], &[None]),
        ];
        for (chunks, want) in table {
            let mut stream = OutputStream::default();
            let got: Vec<Option<String>> = chunks.iter().map(|c| stream.next(c)).collect();
            let want: Vec<Option<String>> = want.iter().map(|w| w.map(str::to_owned)).collect();
            assert_eq!(got, want, "{chunks:?}");
        }
    }

    #[test]
    fn the_stream_stops_at_its_bound_and_says_so() {
        let mut stream = OutputStream::default();
        let block = vec![b'x'; 64 * 1024];
        let mut sent = 0;
        let mut last = String::new();
        while let Some(text) = stream.next(&block) {
            sent += text.len();
            last = text;
        }
        assert!((STREAM_LIMIT..STREAM_LIMIT + 200).contains(&sent), "{sent}");
        assert!(last.ends_with("the result carries its end]\n"), "{last:?}");
        assert_eq!(stream.next(b"more"), None);
    }
}
