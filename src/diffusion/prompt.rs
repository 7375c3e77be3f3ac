//! Prompt weighting and long prompts, in the syntax A1111, ComfyUI and SwarmUI users write:
//! `(words)` weighs them by 1.1, `((words))` by 1.21, `(words:1.4)` by 1.4, `[words]` divides by
//! 1.1, and `\(`, `\)`, `\[`, `\]` are literal brackets. Weights lie in [0, 100]: a negative
//! or larger explicit weight is read as text, and nesting stops growing at 100. A prompt longer
//! than 75 tokens is split into chunks of 75, each encoded on its own between SOT and EOT; the
//! pipeline concatenates the chunks' hidden states along the token axis, which the UNet's
//! cross-attention accepts at any length. At most [`MAX_CHUNKS`] chunks are kept.

use super::tokenizer::{CONTEXT, EOT, SOT, Tokenizer};

/// The most chunks of 75 tokens a prompt is encoded in (600 tokens).
pub const MAX_CHUNKS: usize = crate::job_limits::MAX_PROMPT_CHUNKS;
/// Tokens of prompt in one chunk.
const PER_CHUNK: usize = CONTEXT - 2;
/// The most prompt tokens read.
pub const MAX_TOKENS: usize = MAX_CHUNKS * PER_CHUNK;
/// What one pair of round brackets multiplies by.
const BRACKET: f64 = 1.1;
/// The largest weight: explicit weights above it are text, nested brackets stop growing there.
pub const MAX_WEIGHT: f64 = 100.0;

/// A run of prompt text with its weight.
#[derive(Clone, Debug, PartialEq)]
pub struct Segment {
    /// The text, brackets removed.
    pub text: String,
    /// Its weight (1 when unweighted).
    pub weight: f64,
}

/// Splits `prompt` into weighted segments; unclosed brackets weigh the rest of the prompt, as in
/// A1111. Adjacent segments of the same weight are merged.
pub fn parse(prompt: &str) -> Vec<Segment> {
    let mut segments: Vec<Segment> = Vec::new();
    let mut round: Vec<usize> = Vec::new();
    let mut square: Vec<usize> = Vec::new();
    let scale = |segments: &mut Vec<Segment>, from: usize, by: f64| {
        for segment in &mut segments[from..] {
            segment.weight *= by;
        }
    };
    let push_text = |segments: &mut Vec<Segment>, text: &str| {
        segments.push(Segment {
            text: text.to_owned(),
            weight: 1.0,
        });
    };
    let mut rest = prompt;
    while let Some(c) = rest.chars().next() {
        let after = &rest[c.len_utf8()..];
        match c {
            '\\' => {
                // An escaped character is text; a lone backslash at the end is itself.
                let escaped = after.chars().next().unwrap_or('\\');
                push_text(&mut segments, &escaped.to_string());
                rest = after.get(escaped.len_utf8()..).unwrap_or("");
                continue;
            }
            '(' => round.push(segments.len()),
            '[' => square.push(segments.len()),
            ':' if !round.is_empty() => {
                if let Some((weight, tail)) = explicit_weight(after) {
                    let from = round.pop().expect("checked non-empty");
                    scale(&mut segments, from, weight);
                    rest = tail;
                    continue;
                }
                push_text(&mut segments, ":");
            }
            ')' if !round.is_empty() => {
                let from = round.pop().expect("checked non-empty");
                scale(&mut segments, from, BRACKET);
            }
            ']' if !square.is_empty() => {
                let from = square.pop().expect("checked non-empty");
                scale(&mut segments, from, 1.0 / BRACKET);
            }
            _ => {
                let end = rest
                    .find(['\\', '(', ')', '[', ']', ':'])
                    .unwrap_or(rest.len());
                let end = if end == 0 { c.len_utf8() } else { end };
                push_text(&mut segments, &rest[..end]);
                rest = &rest[end..];
                continue;
            }
        }
        rest = after;
    }
    for from in round {
        scale(&mut segments, from, BRACKET);
    }
    for from in square {
        scale(&mut segments, from, 1.0 / BRACKET);
    }
    for segment in &mut segments {
        segment.weight = segment.weight.min(MAX_WEIGHT);
    }
    merge(segments)
}

/// `1.4)` at the start of `text` (spaces allowed around the number): the weight and the text
/// after the bracket.
fn explicit_weight(text: &str) -> Option<(f64, &str)> {
    let (number, tail) = text.split_once(')')?;
    let weight: f64 = number.trim().parse().ok()?;
    (weight.is_finite() && (0.0..=MAX_WEIGHT).contains(&weight)).then_some((weight, tail))
}

fn merge(segments: Vec<Segment>) -> Vec<Segment> {
    let mut out: Vec<Segment> = Vec::new();
    for segment in segments {
        match out.last_mut() {
            Some(last) if last.weight == segment.weight => last.text.push_str(&segment.text),
            _ => out.push(segment),
        }
    }
    out
}

/// One chunk: SOT, up to 75 prompt tokens, EOT, and each token's weight.
#[derive(Clone, Debug, PartialEq)]
pub struct Chunk {
    ids: Vec<u32>,
    weights: Vec<f64>,
}

impl Chunk {
    /// The ids padded with `pad` to 77.
    pub fn padded(&self, pad: u32) -> Vec<i64> {
        let mut ids: Vec<i64> = self.ids.iter().map(|id| i64::from(*id)).collect();
        ids.resize(CONTEXT, i64::from(pad));
        ids
    }

    /// The 77 weights (1 for SOT, EOT and padding), or None when all are 1.
    pub fn weights(&self) -> Option<Vec<f64>> {
        if self.weights.iter().all(|w| *w == 1.0) {
            return None;
        }
        let mut weights = self.weights.clone();
        weights.resize(CONTEXT, 1.0);
        Some(weights)
    }
}

/// A prompt's chunks, and whether it was cut to [`MAX_CHUNKS`] chunks.
#[derive(Clone, Debug, PartialEq)]
pub struct Chunks {
    /// At least one.
    pub chunks: Vec<Chunk>,
    /// Whether tokens beyond the last chunk were dropped.
    pub truncated: bool,
    /// Tokens of prompt text, before any were dropped (SOT and EOT not counted).
    pub tokens: usize,
}

/// Tokenizes `prompt`'s weighted segments into chunks.
pub fn chunks(tokenizer: &Tokenizer, prompt: &str) -> Chunks {
    let tokens: Vec<(u32, f64)> = parse(prompt)
        .iter()
        .flat_map(|segment| {
            tokenizer
                .encode(&segment.text)
                .into_iter()
                .map(move |id| (id, segment.weight))
        })
        .collect();
    let truncated = tokens.len() > MAX_TOKENS;
    let kept = &tokens[..tokens.len().min(MAX_TOKENS)];
    let mut chunks: Vec<Chunk> = kept
        .chunks(PER_CHUNK)
        .map(|part| {
            let ids = std::iter::once(SOT)
                .chain(part.iter().map(|(id, _)| *id))
                .chain(std::iter::once(EOT))
                .collect();
            let weights = std::iter::once(1.0)
                .chain(part.iter().map(|(_, w)| *w))
                .chain(std::iter::once(1.0))
                .collect();
            Chunk { ids, weights }
        })
        .collect();
    if chunks.is_empty() {
        chunks.push(Chunk {
            ids: vec![SOT, EOT],
            weights: vec![1.0, 1.0],
        });
    }
    Chunks {
        chunks,
        truncated,
        tokens: tokens.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diffusion::tokenizer;

    fn weights(prompt: &str) -> Vec<(String, f64)> {
        parse(prompt)
            .into_iter()
            .map(|s| (s.text, (s.weight * 10_000.0).round() / 10_000.0))
            .collect()
    }

    fn pairs(list: &[(&str, f64)]) -> Vec<(String, f64)> {
        list.iter().map(|(t, w)| ((*t).to_owned(), *w)).collect()
    }

    #[test]
    fn brackets_and_explicit_weights_follow_a1111() {
        let cases: [(&str, &[(&str, f64)]); 9] = [
            ("a cat", &[("a cat", 1.0)]),
            ("a (cat)", &[("a ", 1.0), ("cat", 1.1)]),
            ("((cat)) on a mat", &[("cat", 1.21), (" on a mat", 1.0)]),
            ("a [cat]", &[("a ", 1.0), ("cat", 0.9091)]),
            (
                "a (house:1.3) [near] ((the sea))",
                &[
                    ("a ", 1.0),
                    ("house", 1.3),
                    (" ", 1.0),
                    ("near", 0.9091),
                    (" ", 1.0),
                    ("the sea", 1.21),
                ],
            ),
            ("(a (b:2) c:0.5)", &[("a ", 0.5), ("b", 1.0), (" c", 0.5)]),
            (r"\(not weighted\) 1:2", &[("(not weighted) 1:2", 1.0)]),
            ("unclosed (tail", &[("unclosed ", 1.0), ("tail", 1.1)]),
            ("stray ) and ] brackets", &[("stray ) and ] brackets", 1.0)]),
        ];
        for (prompt, expected) in cases {
            assert_eq!(weights(prompt), pairs(expected), "{prompt}");
        }
        assert_eq!(weights("(ratio: 16x9)"), pairs(&[("ratio: 16x9", 1.1)]));
        let deep = format!("{}x{}", "(".repeat(3000), ")".repeat(3000));
        assert_eq!(
            weights(&deep),
            pairs(&[("x", MAX_WEIGHT)]),
            "nesting stops at the cap"
        );
        assert_eq!(
            weights("(x:-1)"),
            pairs(&[("x:-1", 1.1)]),
            "no negative weights"
        );
        assert_eq!(
            weights("(x:1e9)"),
            pairs(&[("x:1e9", 1.1)]),
            "nor huge ones"
        );
        assert_eq!(
            weights("(ratio: 16:9)"),
            pairs(&[("ratio: 16", 9.0)]),
            "as A1111 reads it"
        );
        assert_eq!(weights(""), Vec::<(String, f64)>::new());
        assert_eq!(weights("ends with \\"), pairs(&[("ends with \\", 1.0)]));
    }

    #[test]
    fn long_prompts_are_chunked_by_75_tokens_and_capped() {
        let tokenizer = tokenizer::shared();
        let one = chunks(tokenizer, "a lighthouse at dusk");
        assert_eq!(one.chunks.len(), 1);
        assert_eq!(
            one.chunks[0].padded(EOT),
            tokenizer
                .tokenize("a lighthouse at dusk", EOT)
                .ids
                .iter()
                .map(|id| i64::from(*id))
                .collect::<Vec<_>>(),
            "a short unweighted prompt tokenizes as before"
        );
        assert_eq!(one.chunks[0].weights(), None);

        let words = vec!["cat"; 100].join(" ");
        let long = chunks(tokenizer, &words);
        assert_eq!(long.chunks.len(), 2);
        assert!(!long.truncated);
        let second = long.chunks[1].padded(0);
        assert_eq!((second[0], second[26], second[27]), (49406, 49407, 0));

        let weighted = chunks(tokenizer, "a (cat:1.5)");
        let w = weighted.chunks[0].weights().unwrap();
        assert_eq!(&w[..4], &[1.0, 1.0, 1.5, 1.0]);

        let huge = chunks(tokenizer, &vec!["cat"; 700].join(" "));
        assert_eq!((huge.chunks.len(), huge.truncated), (MAX_CHUNKS, true));
        assert_eq!(
            chunks(tokenizer, "").chunks[0].padded(EOT)[..3],
            [49406, 49407, 49407]
        );
    }

    /// Through a tiny pipeline of each family: weights of 1 change nothing, a weight changes the
    /// conditioning, long prompts get 77 tokens per chunk, and the shorter of the two prompts is
    /// padded so that guidance can batch them.
    #[test]
    fn the_pipeline_weighs_and_chunks_prompts() {
        use tch::{Device, Kind, Tensor};

        use crate::diffusion::pipeline::Pipeline;
        use crate::diffusion::tiny::{write_sdxl_diffusers, write_tiny_diffusers};
        let dir = tempfile::tempdir().unwrap();
        let (sd, xl) = (dir.path().join("sd"), dir.path().join("xl"));
        std::fs::create_dir_all(&sd).unwrap();
        std::fs::create_dir_all(&xl).unwrap();
        write_tiny_diffusers(&sd).unwrap();
        write_sdxl_diffusers(&xl).unwrap();
        let long = vec!["lighthouse"; 100].join(" ");
        for model in [&sd, &xl] {
            let pipeline = Pipeline::load(model, Device::Cpu, Kind::Float).unwrap();
            let context = |prompt: &str, negative: &str| {
                let mut params = crate::diffusion::engine::tests::job("x", "euler", 1).params;
                params.num_images = 1;
                (params.prompt, params.negative_prompt) = (prompt.into(), negative.into());
                pipeline.conditioning_for_tests(&params).0
            };
            let same = |a: &Tensor, b: &Tensor| a.size() == b.size() && a.equal(b);
            let plain = context("a lighthouse at dusk", "blurry");
            assert_eq!(plain.size()[..2], [2, 77]);
            assert!(same(&context("a (lighthouse:1) at dusk", "blurry"), &plain));
            let weighted = context("a (lighthouse:1.5) at dusk", "blurry");
            assert!(
                !same(&weighted, &plain),
                "a weight changes the conditioning"
            );
            assert!(
                same(&weighted.get(0), &plain.get(0)),
                "the negative prompt's is unchanged"
            );
            let long_prompt = context(&long, "blurry");
            assert_eq!(
                long_prompt.size()[..2],
                [2, 154],
                "two chunks, the negative padded"
            );
            assert_eq!(context("a lighthouse", &long).size()[..2], [2, 154]);
            let mut params = crate::diffusion::engine::tests::job("x", "euler", 1).params;
            params.prompt = format!("({long}:1.2)");
            let mut run = pipeline.start(&params, None, None, None).unwrap();
            pipeline.step(&mut run);
            let finite = run.latents.isfinite().all().int64_value(&[]);
            assert_eq!(finite, 1, "the UNet attends to 154 tokens");
        }
    }
}
