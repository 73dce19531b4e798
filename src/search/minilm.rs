//! The in-process embedding model: all-MiniLM-L6-v2 (a 6-layer BERT, 384 dimensions) run on the
//! CPU with `candle`, tokenised with `tokenizers`.
//!
//! Sentence vectors are the mean of the last hidden states over the real tokens (the attention
//! mask excludes padding), then L2-normalised, as sentence-transformers computes them. The
//! model's `tokenizer.json` pads every input to 128 tokens; that padding is replaced by padding to
//! the longest text of a batch, and the mask keeps it out of the mean. Inputs of few tokens
//! (one or two queries) run the linear layers on int8 weights ([`super::few_rows`]).

use std::collections::HashMap;
use std::io::{BufReader, Read};
use std::path::Path;

use anyhow::{Context, bail, ensure};
use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{Embedding, LayerNorm, VarBuilder, embedding, layer_norm, linear};
use safetensors::tensor::{Dtype, Metadata};
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
        let tensors =
            read_weights(&dir.join("model.safetensors"), &device).context("cannot read the model's weights")?;
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

/// Longest `safetensors` header accepted (the model's is about 10 KiB).
const MAX_HEADER: u64 = 1 << 20;

/// Reads the `f32` tensors of a `safetensors` file one after the other, each straight into the
/// buffer it keeps. Reading the whole file first holds it beside the copies made of it, and that
/// was the server's peak (206 MiB at start, against 172 MiB read this way). Integer tensors (BERT's `position_ids`
/// buffer) are not weights and are skipped; weights of another float type are refused.
fn read_weights(path: &Path, device: &Device) -> anyhow::Result<HashMap<String, Tensor>> {
    let mut file = BufReader::new(std::fs::File::open(path)?);
    let mut length = [0u8; 8];
    file.read_exact(&mut length)?;
    let header_length = u64::from_le_bytes(length);
    ensure!(header_length <= MAX_HEADER, "the header is {header_length} bytes, more than {MAX_HEADER}");
    let mut header = vec![0u8; usize::try_from(header_length)?];
    file.read_exact(&mut header)?;
    let metadata: Metadata = serde_json::from_slice(&header)?;
    let mut infos: Vec<_> = metadata.tensors().into_iter().collect();
    infos.sort_by_key(|(_, info)| info.data_offsets);
    let mut tensors = HashMap::with_capacity(infos.len());
    let mut chunk = vec![0u8; 64 * 1024];
    let mut at = 0;
    for (name, info) in infos {
        let (start, end) = info.data_offsets;
        ensure!(start == at && end >= start, "the tensor {name} does not follow the one before it");
        at = end;
        let mut left = end - start;
        if info.dtype != Dtype::F32 {
            let integers =
                [Dtype::BOOL, Dtype::U8, Dtype::I8, Dtype::I16, Dtype::U16, Dtype::I32, Dtype::U32, Dtype::I64];
            ensure!(integers.contains(&info.dtype), "the tensor {name} is {:?}: the model must be in F32", info.dtype);
            std::io::copy(&mut (&mut file).take(left as u64), &mut std::io::sink())?;
            continue;
        }
        let count = info.shape.iter().try_fold(1usize, |n, d| n.checked_mul(*d));
        ensure!(count.and_then(|c| c.checked_mul(4)) == Some(left), "the tensor {name} is not as long as its shape");
        let mut values = Vec::with_capacity(left / 4);
        while left > 0 {
            let read = left.min(chunk.len());
            file.read_exact(&mut chunk[..read])?;
            values.extend(chunk[..read].chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])));
            left -= read;
        }
        tensors.insert(name, Tensor::from_vec(values, info.shape.as_slice(), device)?);
    }
    Ok(tensors)
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
    fn weights_read_tensor_by_tensor_are_the_files_weights() {
        let path = model_dir().join("model.safetensors");
        let read = read_weights(&path, &Device::Cpu).unwrap();
        let reference = candle_core::safetensors::load(&path, &Device::Cpu).unwrap();
        let weights: Vec<_> = reference.iter().filter(|(_, t)| t.dtype() == DType::F32).collect();
        assert_eq!(read.len(), weights.len());
        assert!(weights.len() > 90, "a 6-layer BERT has about 100 weight tensors");
        for (name, tensor) in weights {
            let ours = &read[name];
            assert_eq!(ours.dims(), tensor.dims(), "{name}");
            let values = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            assert!(values(ours) == values(tensor), "{name} differs");
        }
    }

    #[test]
    fn a_truncated_weights_file_is_refused() {
        let bytes = std::fs::read(model_dir().join("model.safetensors")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let cut = dir.path().join("model.safetensors");
        std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
        assert!(read_weights(&cut, &Device::Cpu).is_err());
        std::fs::write(&cut, u64::MAX.to_le_bytes()).unwrap();
        let error = read_weights(&cut, &Device::Cpu).unwrap_err().to_string();
        assert!(error.contains("header"), "{error}");
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
