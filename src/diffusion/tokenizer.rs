//! CLIP's byte-level BPE tokenizer, our own implementation of the algorithm OpenAI published
//! with CLIP. The merges file (`bpe_simple_vocab_16e6.txt.gz`, MIT, from the `open-clip-torch`
//! wheel; its licence is beside it) is embedded in the binary.
//!
//! Cleaning follows the reference (HTML unescaped twice, whitespace collapsed, lowercased) except
//! for `ftfy`'s mojibake repair, which we do not apply; prompts that are valid text tokenize the
//! same (golden tests in `tests/data/clip_golden.json`).

use std::collections::HashMap;
use std::io::Read;
use std::sync::OnceLock;

/// The start-of-text id.
pub const SOT: u32 = 49406;
/// The end-of-text id (also the padding id Stable Diffusion's text encoder expects).
pub const EOT: u32 = 49407;
/// CLIP's context length.
pub const CONTEXT: usize = 77;

/// Pre-tokens longer than this many bytes are merged in segments (bounded work per word).
pub const MAX_WORD_CHARS: usize = 64;

const MERGES_GZ: &[u8] = include_bytes!("bpe_simple_vocab_16e6.txt.gz");
/// The reference reads lines 1 ..= 49152 - 256 - 2 of the merges file.
const MERGE_COUNT: usize = 49152 - 256 - 2;

/// A loaded tokenizer.
pub struct Tokenizer {
    encoder: HashMap<String, u32>,
    ranks: HashMap<(String, String), u32>,
    byte_chars: [char; 256],
    pattern: regex::Regex,
}

/// Tokenized prompt for the text encoder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tokens {
    /// Exactly [`CONTEXT`] ids: SOT, the prompt, EOT, then padding.
    pub ids: Vec<u32>,
    /// Whether the prompt was longer than 75 tokens and was cut.
    pub truncated: bool,
}

/// The shared tokenizer, built on first use.
pub fn shared() -> &'static Tokenizer {
    static TOKENIZER: OnceLock<Tokenizer> = OnceLock::new();
    TOKENIZER.get_or_init(Tokenizer::new)
}

/// GPT-2's byte-to-character table: printable bytes map to themselves, the rest to 256 + n.
fn byte_chars() -> [char; 256] {
    let printable =
        |b: u32| (33..=126).contains(&b) || (161..=172).contains(&b) || (174..=255).contains(&b);
    let mut table = ['\0'; 256];
    let mut extra = 0;
    for b in 0..256u32 {
        let code = if printable(b) {
            b
        } else {
            extra += 1;
            255 + extra
        };
        table[b as usize] = char::from_u32(code).expect("codes below 512 are chars");
    }
    table
}

impl Tokenizer {
    /// Builds the vocabulary (49,408 entries) and merge ranks from the embedded file.
    pub fn new() -> Self {
        let mut text = String::new();
        flate2::read::GzDecoder::new(MERGES_GZ)
            .read_to_string(&mut text)
            .expect("the embedded merges file is valid gzip text");
        let merges: Vec<(String, String)> = text
            .split('\n')
            .skip(1)
            .take(MERGE_COUNT)
            .filter_map(|line| {
                let (a, b) = line.split_once(' ')?;
                Some((a.to_owned(), b.to_owned()))
            })
            .collect();
        let byte_chars = byte_chars();
        // The reference orders byte tokens by its bytes_to_unicode insertion order: printable
        // bytes first, then the others.
        let mut order: Vec<u32> = (0..256)
            .filter(|b| byte_chars[*b as usize] as u32 == *b)
            .collect();
        order.extend((0..256).filter(|b| byte_chars[*b as usize] as u32 != *b));
        let mut vocab: Vec<String> = order
            .iter()
            .map(|b| byte_chars[*b as usize].to_string())
            .collect();
        let with_end: Vec<String> = vocab.iter().map(|v| format!("{v}</w>")).collect();
        vocab.extend(with_end);
        vocab.extend(merges.iter().map(|(a, b)| format!("{a}{b}")));
        vocab.push("<start_of_text>".into());
        vocab.push("<end_of_text>".into());
        let encoder = vocab
            .into_iter()
            .enumerate()
            .map(|(i, v)| {
                (
                    v,
                    u32::try_from(i).expect("the vocabulary has 49,408 entries"),
                )
            })
            .collect();
        let ranks = merges
            .into_iter()
            .enumerate()
            .map(|(i, m)| (m, u32::try_from(i).expect("fewer than 2^32 merges")))
            .collect();
        let pattern = regex::Regex::new(
            r"(?i)<start_of_text>|<end_of_text>|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+",
        )
        .expect("the pattern is valid");
        Self {
            encoder,
            ranks,
            byte_chars,
            pattern,
        }
    }

    /// The ids of `text`, without SOT/EOT.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let text = clean(text);
        let mut ids = Vec::new();
        for piece in self.pattern.find_iter(&text) {
            let piece = piece.as_str();
            if piece == "<start_of_text>" {
                ids.push(SOT);
                continue;
            }
            if piece == "<end_of_text>" {
                ids.push(EOT);
                continue;
            }
            let mapped: Vec<char> = piece.bytes().map(|b| self.byte_chars[b as usize]).collect();
            // BPE is quadratic in a word's length: a long word is merged in segments of
            // MAX_WORD_CHARS, only the last one ending the word. Words that long are far past
            // what a prompt can hold, so only the cost changes.
            let segments = mapped.chunks(MAX_WORD_CHARS);
            let count = segments.len();
            for (i, segment) in segments.enumerate() {
                for token in self.bpe(segment, i + 1 == count) {
                    ids.push(self.encoder.get(&token).copied().unwrap_or(EOT));
                }
            }
        }
        ids
    }

    /// SOT, the prompt, EOT, padded with `pad` to [`CONTEXT`] ids; longer prompts are cut to 75
    /// tokens (the reference's truncation: the last kept id becomes EOT).
    pub fn tokenize(&self, text: &str, pad: u32) -> Tokens {
        let mut ids = vec![SOT];
        ids.extend(self.encode(text));
        ids.push(EOT);
        let truncated = ids.len() > CONTEXT;
        if truncated {
            ids.truncate(CONTEXT);
            ids[CONTEXT - 1] = EOT;
        }
        ids.resize(CONTEXT, pad);
        Tokens { ids, truncated }
    }

    /// Merges one pre-token (already byte-mapped) by rank, as the reference does; `ends_word`
    /// marks its last symbol as a word end.
    fn bpe(&self, chars: &[char], ends_word: bool) -> Vec<String> {
        let Some((last, rest)) = chars.split_last() else {
            return Vec::new();
        };
        let mut word: Vec<String> = rest.iter().map(char::to_string).collect();
        word.push(if ends_word {
            format!("{last}</w>")
        } else {
            last.to_string()
        });
        while word.len() > 1 {
            let best = word
                .windows(2)
                .filter_map(|pair| {
                    self.ranks
                        .get(&(pair[0].clone(), pair[1].clone()))
                        .map(|rank| (*rank, pair[0].clone(), pair[1].clone()))
                })
                .min();
            let Some((_, first, second)) = best else {
                break;
            };
            let mut merged = Vec::with_capacity(word.len());
            let mut i = 0;
            while i < word.len() {
                if i + 1 < word.len() && word[i] == first && word[i + 1] == second {
                    merged.push(format!("{first}{second}"));
                    i += 2;
                } else {
                    merged.push(word[i].clone());
                    i += 1;
                }
            }
            word = merged;
        }
        word
    }
}

impl Default for Tokenizer {
    fn default() -> Self {
        Self::new()
    }
}

/// HTML-unescaped twice, whitespace collapsed, trimmed, lowercased.
fn clean(text: &str) -> String {
    let text = unescape(&unescape(text));
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// The HTML character references prompts contain in practice: numeric ones and the common named
/// ones. Unknown names stay as they are.
fn unescape(text: &str) -> String {
    const NAMED: [(&str, char); 7] = [
        ("amp", '&'),
        ("lt", '<'),
        ("gt", '>'),
        ("quot", '"'),
        ("apos", '\''),
        ("nbsp", '\u{a0}'),
        ("#39", '\''),
    ];
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('&') {
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        let end = rest[1..].find(';').map(|e| e + 1).filter(|e| *e <= 10);
        let decoded = end.and_then(|end| {
            let name = &rest[1..end];
            let numeric = name
                .strip_prefix("#x")
                .or_else(|| name.strip_prefix("#X"))
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .or_else(|| name.strip_prefix('#').and_then(|dec| dec.parse().ok()))
                .and_then(char::from_u32);
            numeric
                .or_else(|| NAMED.iter().find(|(n, _)| *n == name).map(|(_, c)| *c))
                .map(|c| (c, end))
        });
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Golden {
        text: String,
        encode: Vec<u32>,
        tokenize: Vec<u32>,
    }

    #[test]
    fn ids_match_the_reference_tokenizer() {
        let golden: Vec<Golden> =
            serde_json::from_str(include_str!("../../tests/data/clip_golden.json")).unwrap();
        assert!(golden.len() >= 10);
        let tokenizer = shared();
        for case in golden {
            assert_eq!(
                tokenizer.encode(&case.text),
                case.encode,
                "encode {:?}",
                case.text
            );
            let tokens = tokenizer.tokenize(&case.text, 0);
            assert_eq!(tokens.ids, case.tokenize, "tokenize {:?}", case.text);
        }
    }

    #[test]
    fn long_prompts_are_cut_and_flagged() {
        let long = "cat ".repeat(100);
        let tokens = shared().tokenize(&long, EOT);
        assert!(tokens.truncated);
        assert_eq!(
            (tokens.ids.len(), tokens.ids[0], tokens.ids[76]),
            (CONTEXT, SOT, EOT)
        );
        let short = shared().tokenize("a cat", EOT);
        assert!(!short.truncated);
        assert_eq!(
            &short.ids[short.ids.len() - 3..],
            &[EOT, EOT, EOT],
            "padded with EOT"
        );
    }

    #[test]
    fn long_words_are_merged_in_segments() {
        let tokenizer = shared();
        let word = "a".repeat(MAX_WORD_CHARS);
        let whole = tokenizer.encode(&word);
        assert!(!whole.is_empty());
        // 4,000 letters in one word: merged segment by segment, and what follows is intact.
        let long: String = "abcdefghij".repeat(400);
        let ids = tokenizer.encode(&long);
        assert!(ids.len() >= 4000 / MAX_WORD_CHARS);
        let words = format!("{long} cat");
        assert_eq!(
            tokenizer.encode(&words).last(),
            tokenizer.encode("cat").last()
        );
    }

    #[test]
    fn html_references_are_unescaped() {
        assert_eq!(
            unescape("a &amp;amp; b &#65;&#x42; &bogus; &"),
            "a &amp; b AB &bogus; &"
        );
        assert_eq!(clean("  Tom &amp;amp;   JERRY "), "tom & jerry");
    }
}
