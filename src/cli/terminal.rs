//! The CLI's terminal during an attached run: raw mode in, restored on every way out.

use std::io::IsTerminal;

use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg, Termios};

/// Whether this run has a terminal at both ends (stdin and stdout), so `-t` applies.
pub fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stdout().is_terminal()
}

/// The terminal's rows and columns.
pub fn size() -> Option<(u16, u16)> {
    terminal_size::terminal_size_of(std::io::stdout()).map(|(w, h)| (h.0, w.0))
}

/// Raw mode on stdin for as long as this lives; the saved settings come back on drop.
pub struct RawMode {
    saved: Termios,
}

impl RawMode {
    /// Switches stdin to raw mode; `None` when stdin is not a terminal.
    pub fn enter() -> Option<RawMode> {
        let stdin = std::io::stdin();
        let saved = tcgetattr(&stdin).ok()?;
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        tcsetattr(&stdin, SetArg::TCSANOW, &raw).ok()?;
        Some(RawMode { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = tcsetattr(std::io::stdin(), SetArg::TCSADRAIN, &self.saved);
    }
}
