//! Strings that cross onto the bus: D-Bus strings may not hold NUL (the bus daemon drops the
//! whole connection of a sender that tries), and error sentences stay short.

use std::borrow::Cow;

/// Replaces every NUL with U+FFFD, so engine output, labels and engine messages are always
/// valid D-Bus strings.
pub fn dbus_safe(text: &str) -> Cow<'_, str> {
    if text.contains('\0') {
        Cow::Owned(text.replace('\0', "\u{FFFD}"))
    } else {
        Cow::Borrowed(text)
    }
}

/// Bytes from the engine as a valid D-Bus string: lossy UTF-8, NUL-free.
pub fn dbus_safe_bytes(bytes: &[u8]) -> String {
    dbus_safe(&String::from_utf8_lossy(bytes)).into_owned()
}

/// Keeps error sentences short when a caller sends a huge string.
pub fn truncate_for_message(text: &str) -> String {
    const LIMIT: usize = 80;
    if text.chars().count() <= LIMIT {
        text.to_owned()
    } else {
        let head: String = text.chars().take(LIMIT).collect();
        format!("{head}… ({} bytes)", text.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_and_invalid_utf8_never_reach_the_bus() {
        assert_eq!(dbus_safe("plain"), "plain");
        assert_eq!(dbus_safe("a\0b"), "a\u{FFFD}b");
        assert_eq!(dbus_safe_bytes(b"init\0--x\xff"), "init\u{FFFD}--x\u{FFFD}");
    }

    #[test]
    fn huge_strings_are_cut_in_messages() {
        let huge = "x".repeat(1 << 20);
        let msg = truncate_for_message(&huge);
        assert!(msg.len() < 200 && msg.contains("1048576 bytes"));
    }
}
