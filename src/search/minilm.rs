//! The in-process embedding model: all-MiniLM-L6-v2 (a 6-layer BERT, 384 dimensions) run on the
//! CPU with `candle`, tokenised with `tokenizers`.
//!
//! Sentence vectors are the mean of the last hidden states over the real tokens (the attention
//! mask excludes padding), then L2-normalised, as sentence-transformers computes them. The
//! model's `tokenizer.json` pads every input to 128 tokens; that padding is replaced by padding to
//! the longest text of a batch, and the mask keeps it out of the mean. Inputs of few tokens
//! (one or two queries) run the linear layers on int8 weights ([`super::few_rows`]).

use std::path::Path;

use anyhow::{Context, bail};
use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{Embedding, LayerNorm, VarBuilder, embedding, layer_norm, linear};
use serde::Deserialize;
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use super::few_rows::FewRowsLinear;

/// Longest input in tokens, as the model was trained (`max_seq_length` of sentence-transformers).
const MAX_TOKENS: usize = 256;

/// The model files a model folder must hold.
pub const MODEL_FILES: [&str; 3] = ["config.json", "tokenizer.json", "model.safetensors"];

#[derive(Deserialize)]
struct BertConfig {
    hidden_size: usize,
    num_attention_heads: usize,
    num_hidden_layers: usize,
    layer_norm_eps: f64,
    max_position_embeddings: usize,
}

/// A loaded sentence-embedding model.
pub struct MiniLm {
    tokenizer: Tokenizer,
    embeddings: Embeddings,
    layers: Vec<Layer>,
    dimensions: usize,
}

impl MiniLm {
    /// Loads the model from a folder holding [`MODEL_FILES`].
    ///
    /// # Errors
    /// When a file is missing or malformed.
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        for file in MODEL_FILES {
            if !dir.join(file).is_file() {
                bail!("the model folder {} has no {file}", dir.display());
            }
        }
        let config: BertConfig = serde_json::from_slice(&std::fs::read(dir.join("config.json"))?)
            .context("the model's config.json is not a BERT configuration")?;
        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|e| anyhow::anyhow!("cannot read the model's tokenizer.json: {e}"))?;
        tokenizer
            .with_padding(Some(PaddingParams { strategy: PaddingStrategy::BatchLongest, ..PaddingParams::default() }));
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS.min(config.max_position_embeddings),
                ..TruncationParams::default()
            }))
            .map_err(|e| anyhow::anyhow!("cannot configure truncation: {e}"))?;
        let device = Device::Cpu;
        let tensors = candle_core::safetensors::load(dir.join("model.safetensors"), &device)
            .context("cannot read the model's weights")?;
        let vb = VarBuilder::from_tensors(tensors, DType::F32, &device);
        let embeddings = Embeddings::load(vb.pp("embeddings"), &config)?;
        let layers = (0..config.num_hidden_layers)
            .map(|i| Layer::load(vb.pp(format!("encoder.layer.{i}")), &config))
            .collect::<candle_core::Result<_>>()?;
        Ok(Self { tokenizer, embeddings, layers, dimensions: config.hidden_size })
    }

    /// Length of the vectors.
    pub fn dimensions(&self) -> usize {
        self.dimensions
    }

    /// Embeds a batch of texts into unit vectors, in order. CPU-bound: call it off the async
    /// runtime.
    ///
    /// # Errors
    /// When tokenising or the tensor arithmetic fails.
    pub fn embed(&self, texts: &[String]) -> anyhow::Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let encodings =
            self.tokenizer.encode_batch(texts.to_vec(), true).map_err(|e| anyhow::anyhow!("cannot tokenise: {e}"))?;
        let (batch, len) = (encodings.len(), encodings.first().map_or(0, |e| e.get_ids().len()));
        let mut ids = Vec::with_capacity(batch * len);
        let mut mask = Vec::with_capacity(batch * len);
        for encoding in &encodings {
            ids.extend_from_slice(encoding.get_ids());
            mask.extend(encoding.get_attention_mask().iter().map(|&m| m as f32));
        }
        let device = Device::Cpu;
        let ids = Tensor::from_vec(ids, (batch, len), &device)?;
        let mask = Tensor::from_vec(mask, (batch, len), &device)?;
        // Padding positions get a large negative score before the softmax.
        let bias = ((mask.ones_like()? - &mask)? * -10_000.0)?.reshape((batch, 1, 1, len))?;
        let mut hidden = self.embeddings.forward(&ids)?;
        for layer in &self.layers {
            hidden = layer.forward(&hidden, &bias)?;
        }
        let mask = mask.unsqueeze(2)?;
        let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
        let counts = mask.sum(1)?.clamp(1e-9, f64::MAX)?;
        let mean = summed.broadcast_div(&counts)?;
        let norms = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
        Ok(mean.broadcast_div(&norms)?.to_vec2()?)
    }
}

struct Embeddings {
    words: Embedding,
    positions: Embedding,
    token_types: Embedding,
    norm: LayerNorm,
}

impl Embeddings {
    fn load(vb: VarBuilder, config: &BertConfig) -> candle_core::Result<Self> {
        let size = config.hidden_size;
        let words = vb.get((vb.get_unchecked("word_embeddings.weight")?.dim(0)?, size), "word_embeddings.weight")?;
        Ok(Self {
            words: Embedding::new(words, size),
            positions: embedding(config.max_position_embeddings, size, vb.pp("position_embeddings"))?,
            token_types: embedding(2, size, vb.pp("token_type_embeddings"))?,
            norm: layer_norm(size, config.layer_norm_eps, vb.pp("LayerNorm"))?,
        })
    }

    fn forward(&self, ids: &Tensor) -> candle_core::Result<Tensor> {
        let (_, len) = ids.dims2()?;
        let positions = Tensor::arange(0u32, len as u32, ids.device())?.unsqueeze(0)?;
        let words = self.words.forward(ids)?;
        let positions = self.positions.forward(&positions)?;
        let types = self.token_types.forward(&ids.zeros_like()?)?;
        self.norm.forward(&words.broadcast_add(&positions)?.add(&types)?)
    }
}

struct Layer {
    query: FewRowsLinear,
    key: FewRowsLinear,
    value: FewRowsLinear,
    attention_out: FewRowsLinear,
    attention_norm: LayerNorm,
    intermediate: FewRowsLinear,
    output: FewRowsLinear,
    output_norm: LayerNorm,
    heads: usize,
}

impl Layer {
    fn load(vb: VarBuilder, config: &BertConfig) -> candle_core::Result<Self> {
        let (size, eps) = (config.hidden_size, config.layer_norm_eps);
        let inner = vb.get_unchecked("intermediate.dense.bias")?.dim(0)?;
        Ok(Self {
            query: FewRowsLinear::new(linear(size, size, vb.pp("attention.self.query"))?)?,
            key: FewRowsLinear::new(linear(size, size, vb.pp("attention.self.key"))?)?,
            value: FewRowsLinear::new(linear(size, size, vb.pp("attention.self.value"))?)?,
            attention_out: FewRowsLinear::new(linear(size, size, vb.pp("attention.output.dense"))?)?,
            attention_norm: layer_norm(size, eps, vb.pp("attention.output.LayerNorm"))?,
            intermediate: FewRowsLinear::new(linear(size, inner, vb.pp("intermediate.dense"))?)?,
            output: FewRowsLinear::new(linear(inner, size, vb.pp("output.dense"))?)?,
            output_norm: layer_norm(size, eps, vb.pp("output.LayerNorm"))?,
            heads: config.num_attention_heads,
        })
    }

    fn forward(&self, hidden: &Tensor, bias: &Tensor) -> candle_core::Result<Tensor> {
        let (batch, len, size) = hidden.dims3()?;
        let head = size / self.heads;
        let split = |t: Tensor| t.reshape((batch, len, self.heads, head))?.transpose(1, 2)?.contiguous();
        let q = split(self.query.forward(hidden)?)?;
        let k = split(self.key.forward(hidden)?)?;
        let v = split(self.value.forward(hidden)?)?;
        let scores = (q.matmul(&k.t()?)? / (head as f64).sqrt())?.broadcast_add(bias)?;
        let probs = candle_nn::ops::softmax_last_dim(&scores)?;
        let context = probs.matmul(&v)?.transpose(1, 2)?.reshape((batch, len, size))?;
        let attended = self.attention_norm.forward(&(self.attention_out.forward(&context)? + hidden)?)?;
        let inner = self.intermediate.forward(&attended)?.gelu_erf()?;
        self.output_norm.forward(&(self.output.forward(&inner)? + &attended)?)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed step should fail the test loudly
mod tests {
    use super::*;
    use crate::search::vector::dot as cosine;

    fn model_dir() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("models/all-minilm-l6-v2")
    }

    #[test]
    fn reproduces_the_reference_similarities() {
        let model = MiniLm::load(&model_dir()).unwrap();
        let texts = ["red silk evening dress", "crimson satin gown", "steel hammer"].map(String::from);
        let vectors = model.embed(&texts).unwrap();
        assert_eq!(vectors.len(), 3);
        assert!(vectors.iter().all(|v| v.len() == 384));
        for v in &vectors {
            let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-4, "unit length, got {norm}");
        }
        let close = cosine(&vectors[0], &vectors[1]);
        let far = cosine(&vectors[0], &vectors[2]);
        assert!((close - 0.61).abs() < 0.03, "dress vs gown: {close}");
        assert!((far - 0.06).abs() < 0.05, "dress vs hammer: {far}");
    }

    #[test]
    fn padding_in_a_batch_changes_nothing() {
        let model = MiniLm::load(&model_dir()).unwrap();
        let short = "gown".to_owned();
        let long = "a long embroidered velvet evening coat with silk lining and pearl buttons".to_owned();
        let longer = format!("{long} and a matching belt of the same velvet in a deep bottle green");
        // Both batches are too long for the int8 path: the short text is padded to two lengths.
        let padded = model.embed(&[short.clone(), long]).unwrap();
        let padded_more = model.embed(&[short.clone(), longer]).unwrap();
        let same = cosine(&padded[0], &padded_more[0]);
        assert!(same > 0.9999, "the padded copies must be equal: {same}");
        // Alone it takes the int8 path, within rounding of the exact weights.
        let alone = model.embed(std::slice::from_ref(&short)).unwrap();
        let close = cosine(&alone[0], &padded[0]);
        assert!(close > 0.995, "int8 weights stay close to the exact ones: {close}");
    }
}
