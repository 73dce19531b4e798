//! A pre-scan that bounds how deeply a GraphQL document nests, before the parser sees it.
//!
//! The parser descends recursively into selection sets, argument lists, list values and object
//! values; a few thousand levels of `[[[…` in an 8 KB document would overflow the stack and abort
//! the process. This scan counts brackets (`{`, `[`, `(`) in one pass over the text, skipping
//! strings, block strings and comments, and refuses a document whose brackets nest deeper than
//! the limit. It never allocates and never recurses, so any input is safe to give it.

/// Why a document was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooDeep {
    /// The limit that was passed.
    pub limit: usize,
}

impl TooDeep {
    /// The message shown to the client.
    pub fn message(self) -> String {
        format!("the document nests brackets deeper than {} levels", self.limit)
    }
}

/// Checks that no bracket in `document` is nested more than `limit` levels deep.
///
/// # Errors
/// [`TooDeep`] as soon as the limit is passed.
pub fn check(document: &str, limit: usize) -> Result<(), TooDeep> {
    let bytes = document.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        match byte {
            b'{' | b'[' | b'(' => {
                depth += 1;
                if depth > limit {
                    return Err(TooDeep { limit });
                }
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            b'#' => {
                while bytes.get(i).is_some_and(|&b| b != b'\n' && b != b'\r') {
                    i += 1;
                }
            }
            b'"' if bytes.get(i..i + 3) == Some(b"\"\"\"") => {
                i += 3;
                loop {
                    match bytes.get(i) {
                        None => return Ok(()),
                        Some(b'\\') if bytes.get(i + 1..i + 4) == Some(b"\"\"\"") => i += 4,
                        Some(b'"') if bytes.get(i..i + 3) == Some(b"\"\"\"") => {
                            i += 2;
                            break;
                        }
                        Some(_) => i += 1,
                    }
                }
            }
            b'"' => {
                i += 1;
                loop {
                    match bytes.get(i) {
                        None | Some(b'\n' | b'\r') => break,
                        Some(b'\\') => i += 2,
                        Some(b'"') => break,
                        Some(_) => i += 1,
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_every_kind_of_bracket() {
        assert_eq!(check("{ a { b } }", 2), Ok(()));
        assert_eq!(check("{ a { b { c } } }", 2), Err(TooDeep { limit: 2 }));
        assert_eq!(check("{ a(x: [[1]]) }", 3), Err(TooDeep { limit: 3 }));
        assert_eq!(check("{ a(x: {y: {z: 1}}) }", 3), Err(TooDeep { limit: 3 }));
        assert_eq!(check("{ a } { b } { c }", 1), Ok(()), "siblings do not add up");
    }

    #[test]
    fn ignores_brackets_in_strings_and_comments() {
        assert_eq!(check(r#"{ a(x: "[[[[[[{{{{") }"#, 2), Ok(()));
        assert_eq!(check(r#"{ a(x: "\"[[[[[[") }"#, 2), Ok(()));
        assert_eq!(check("{ a(x: \"\"\" [[[[ \\\"\"\" [[[[ \"\"\") }", 2), Ok(()));
        assert_eq!(check("{ a # [[[[[[\n }", 1), Ok(()));
        assert_eq!(check("{ a(x: \"unterminated\n [[[[ ) }", 2), Err(TooDeep { limit: 2 }));
    }

    #[test]
    fn survives_hostile_input() {
        let deep = "[".repeat(1_000_000);
        assert_eq!(check(&deep, 64), Err(TooDeep { limit: 64 }));
        assert_eq!(check(&"]".repeat(1000), 1), Ok(()));
        assert_eq!(check("\"\"\"", 1), Ok(()));
        assert_eq!(check("\"\\", 1), Ok(()));
        assert_eq!(check("é{[(", 3), Ok(()));
    }
}
