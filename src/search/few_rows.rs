//! Linear layers for inputs of few rows. A shopper's query is about ten tokens; for so few rows
//! a layer's time is the time to read its weights (42 MiB of `f32` for the model's six layers,
//! from memory, on every query), and a general matrix product (`gemm`) adds packing them into
//! blocks on top. Here each layer also keeps its weights as `i8` codes with one scale per
//! output (a quarter of the bytes), and each output is computed as dot products of its code
//! row, read once, with the input rows, which stay in the L1 cache.
//!
//! Symmetric per-row int8 keeps a weight within half a step (1/254 of its row's largest) of its
//! value, so a query's vector stays within about 0.999 cosine of the exact one; inputs of more
//! rows (reindexing, bursts of queries) go to `gemm` with the exact weights, which it reuses
//! across rows. The loops are written for the compiler to vectorise and run under `pulp`'s
//! dispatch, so they use AVX-512 or AVX2 when the CPU has them. One query of seven tokens took
//! 10.4 ms with `gemm`, 9.8 ms with dot products over the `f32` weights and 6.1 ms with these
//! (release build, one core of the benchmark machine).

use candle_core::{Module, Tensor};
use candle_nn::Linear;
use pulp::{Arch, Simd, WithSimd};

use super::hnsw::Code;

/// Most rows (texts × tokens) a product is computed here for: one or two queries. At about 36
/// rows (four queries) `gemm`, which reuses each weight it reads across rows, was as fast.
pub const MAX_ROWS: usize = 24;

/// Sums kept apart per output in a dot product, so they fill vector registers (two AVX-512
/// registers, four AVX2 ones).
const LANES: usize = 32;

/// A linear layer with an int8 copy of its weights for inputs of few rows.
pub struct FewRowsLinear {
    exact: Linear,
    /// One row of `inputs` codes per output.
    codes: Vec<i8>,
    /// Per output, the weight one code step stands for.
    scales: Vec<f32>,
    bias: Option<Vec<f32>>,
    inputs: usize,
}

impl FewRowsLinear {
    /// Quantises `exact`'s weights (kept as they are for inputs of many rows).
    ///
    /// # Errors
    /// When the weights are not an `f32` matrix.
    pub fn new(exact: Linear) -> candle_core::Result<Self> {
        let weights = exact.weight().to_vec2::<f32>()?;
        let inputs = weights.first().map_or(0, Vec::len);
        let mut codes = Vec::with_capacity(weights.len() * inputs);
        let mut scales = Vec::with_capacity(weights.len());
        for row in &weights {
            // Quantised as the vector index quantises its vectors: the largest weight to ±127.
            let code = Code::of(row);
            codes.extend(code.codes);
            scales.push(code.scale);
        }
        let bias = exact.bias().map(|b| b.to_vec1::<f32>()).transpose()?;
        Ok(Self { exact, codes, scales, bias, inputs })
    }

    /// The layer applied to `input` (`(…, inputs)`): from the int8 codes when it has at most
    /// [`MAX_ROWS`] rows, else with the exact weights.
    ///
    /// # Errors
    /// When the shapes disagree.
    pub fn forward(&self, input: &Tensor) -> candle_core::Result<Tensor> {
        let dims = input.dims();
        let Some((&inputs, leading)) = dims.split_last() else { return self.exact.forward(input) };
        let rows: usize = leading.iter().product();
        if rows > MAX_ROWS || rows == 0 || inputs != self.inputs {
            return self.exact.forward(input);
        }
        let x = input.flatten_all()?.to_vec1::<f32>()?;
        let mut out = vec![0.0_f32; rows * self.scales.len()];
        Arch::new().dispatch(Product { layer: self, x: &x, out: &mut out });
        let mut shape = leading.to_vec();
        shape.push(self.scales.len());
        Tensor::from_vec(out, shape, input.device())
    }
}

/// `out = x · weightsᵀ + bias` for the rows of `x`.
struct Product<'a> {
    layer: &'a FewRowsLinear,
    x: &'a [f32],
    out: &'a mut [f32],
}

impl WithSimd for Product<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, _simd: S) {
        let Self { layer, x, out } = self;
        let (inputs, outputs) = (layer.inputs, layer.scales.len());
        // Four outputs at a time: each input value read serves four code rows, and the four
        // sums per lane are independent, so the adds do not wait on each other.
        for first in (0..outputs).step_by(4) {
            let rows: [usize; 4] = std::array::from_fn(|i| (first + i).min(outputs - 1));
            let codes = rows.map(|n| &layer.codes[n * inputs..(n + 1) * inputs]);
            for (m, x) in x.chunks_exact(inputs).enumerate() {
                let sums = dot4(codes, x);
                for (i, &n) in rows.iter().enumerate().take(outputs - first) {
                    let bias = layer.bias.as_ref().map_or(0.0, |b| b[n]);
                    out[m * outputs + n] = sums[i] * layer.scales[n] + bias;
                }
            }
        }
    }
}

/// The dot products of four code rows with `x` (all of one length), in [`LANES`] running sums
/// each.
#[inline(always)]
fn dot4(rows: [&[i8]; 4], x: &[f32]) -> [f32; 4] {
    let (x_chunks, x_tail) = x.as_chunks::<LANES>();
    let [(c0, t0), (c1, t1), (c2, t2), (c3, t3)] = rows.map(|row| row.as_chunks::<LANES>());
    let (mut s0, mut s1, mut s2, mut s3) = ([0.0_f32; LANES], [0.0_f32; LANES], [0.0_f32; LANES], [0.0_f32; LANES]);
    for ((((x, c0), c1), c2), c3) in x_chunks.iter().zip(c0).zip(c1).zip(c2).zip(c3) {
        for lane in 0..LANES {
            s0[lane] += f32::from(c0[lane]) * x[lane];
            s1[lane] += f32::from(c1[lane]) * x[lane];
            s2[lane] += f32::from(c2[lane]) * x[lane];
            s3[lane] += f32::from(c3[lane]) * x[lane];
        }
    }
    let finish = |sums: [f32; LANES], tail: &[i8]| {
        sums.iter().sum::<f32>() + tail.iter().zip(x_tail).map(|(c, x)| f32::from(*c) * x).sum::<f32>()
    };
    [finish(s0, t0), finish(s1, t1), finish(s2, t2), finish(s3, t3)]
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed step should fail the test loudly
mod tests {
    use candle_core::{DType, Device};

    use super::*;

    fn layer(inputs: usize, outputs: usize) -> FewRowsLinear {
        let device = Device::Cpu;
        let weights = Tensor::randn(0.0_f32, 1.0_f32, (outputs, inputs), &device).unwrap();
        let bias = Tensor::randn(0.0_f32, 1.0_f32, outputs, &device).unwrap();
        FewRowsLinear::new(Linear::new(weights, Some(bias))).unwrap()
    }

    /// The cosine of the two outputs, row by row, at its lowest.
    fn least_cosine(a: &Tensor, b: &Tensor) -> f32 {
        let (a, b) = (a.flatten_to(a.rank() - 2).unwrap(), b.flatten_to(b.rank() - 2).unwrap());
        let (a, b) = (a.to_vec2::<f32>().unwrap(), b.to_vec2::<f32>().unwrap());
        a.iter()
            .zip(&b)
            .map(|(a, b)| {
                let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
                let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
                dot / (norm(a) * norm(b))
            })
            .fold(1.0, f32::min)
    }

    #[test]
    fn few_rows_come_within_int8_rounding_of_the_exact_layer() {
        let layer = layer(384, 1536);
        for rows in [1, 7, MAX_ROWS] {
            let input = Tensor::randn(0.0_f32, 1.0_f32, (1, rows, 384), &Device::Cpu).unwrap();
            let ours = layer.forward(&input).unwrap();
            assert_eq!(ours.dims(), [1, rows, 1536]);
            let cosine = least_cosine(&ours, &layer.exact.forward(&input).unwrap());
            assert!(cosine > 0.9995, "{rows} rows: {cosine}");
        }
    }

    #[test]
    fn odd_lengths_and_output_counts_are_covered_and_many_rows_are_exact() {
        let layer = layer(37, 6);
        let input = Tensor::randn(0.0_f32, 1.0_f32, (2, 3, 37), &Device::Cpu).unwrap();
        let cosine = least_cosine(&layer.forward(&input).unwrap(), &layer.exact.forward(&input).unwrap());
        assert!(cosine > 0.9995, "{cosine}");
        let many = Tensor::ones((MAX_ROWS + 1, 37), DType::F32, &Device::Cpu).unwrap();
        let exact = layer.exact.forward(&many).unwrap();
        let ours = layer.forward(&many).unwrap().to_vec2::<f32>().unwrap();
        assert_eq!(ours, exact.to_vec2::<f32>().unwrap(), "left to the exact weights");
    }
}
