// A command as one line a person can read and a shell reads back into the same words: the
// line the atomic CLI prints (src/text.rs display_line), word for word, so the page never
// shows `sh -c echo a > /out/x` for ["sh", "-c", "echo a > /out/x"]. It imports nothing, so
// the test that holds it to the CLI's function can load it alone.

const BARE = /^[A-Za-z0-9@%+=:,./_-]+$/;
// Control characters (Cc) and format characters (Cf: bidi overrides, zero-width joiners).
const HIDDEN = /[\p{Cc}\p{Cf}]/u;
// What makes a shell read a word otherwise than it is written.
const SPECIAL = /[\n'|&;<>()$`\\" \t*?[#~=%]/;

// $'...': every hidden character as the \xNN bytes of its UTF-8.
function ansiC(word) {
    const named = { "\\": "\\\\", "'": "\\'", "\n": "\\n", "\t": "\\t", "\r": "\\r" };
    let out = "$'";
    for (const c of word) {
        if (named[c]) {
            out += named[c];
        } else if (HIDDEN.test(c)) {
            for (const b of new TextEncoder().encode(c))
                out += "\\x" + b.toString(16).padStart(2, "0");
        } else {
            out += c;
        }
    }
    return out + "'";
}

function quote(word) {
    if (word === "")
        return "''";
    if (!SPECIAL.test(word))
        return word;
    return "'" + word.replaceAll("'", "'\\''") + "'";
}

export function displayLine(argv) {
    return (argv || []).map(w => {
        const word = String(w);
        if (BARE.test(word))
            return word;
        return HIDDEN.test(word) ? ansiC(word) : quote(word);
    }).join(" ");
}
