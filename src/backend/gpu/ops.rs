//! `impl Backend for Gpu`: each op checks its shapes (errors, never panics), allocates its output from the pool and
//! records one dispatch (two for a chunked token table). Nothing runs until `read`.

use std::sync::Arc;

use super::{act_kind, checked_grid, Gpu, GpuLinear, GpuTable, GpuTensor, GpuVector, Kernel, MAX_HEAD_DIM};
use crate::backend::{check, check_bias, Activation, Backend, Dims, Mask, Weights};
use crate::error::Result;
use crate::quant::{Kind, PackedMatrix};
use crate::tensor::HostTensor;

impl Weights for Gpu {
    type Linear = GpuLinear;
    type Vector = GpuVector;
    type Table = GpuTable;

    fn linear(&self, name: &str, weight: PackedMatrix, bias: Option<HostTensor>) -> Result<GpuLinear> {
        check_bias(name, &weight, bias.as_ref())?;
        let bias = bias.map(|b| self.weight(&b.name, bytemuck::cast_slice(&b.data))).transpose()?;
        Ok(GpuLinear {
            out_features: weight.rows,
            in_features: weight.cols,
            weight: self.packed(name, &weight, 0, weight.rows)?,
            bias,
        })
    }

    fn vector(&self, v: HostTensor) -> Result<GpuVector> {
        Ok(GpuVector { len: v.data.len(), buffer: self.weight(&v.name, bytemuck::cast_slice(&v.data))? })
    }

    fn table(&self, name: &str, t: PackedMatrix) -> Result<GpuTable> {
        let (rows, dim) = (t.rows, t.cols);
        let row_bytes = (4 * t.words_per_row()).max(2 * t.blocks_per_row()).max(1) as u64;
        let per_chunk = ((self.inner.max_binding / row_bytes) as usize).clamp(1, rows.max(1));
        let chunks = (0..rows.max(1))
            .step_by(per_chunk)
            .map(|row0| {
                let n = per_chunk.min(rows - row0);
                Ok((row0, n, self.packed(&format!("{name} rows {row0}..{}", row0 + n), &t, row0, n)?))
            })
            .collect::<Result<_>>()?;
        Ok(GpuTable { rows, dim, kind: t.kind, chunks })
    }
}

impl Backend for Gpu {
    type Tensor = GpuTensor;

    fn name(&self) -> String {
        let a = self.adapter();
        format!("gpu: {} ({}, {})", a.name, a.backend, a.device_type)
    }

    fn upload(&self, data: &[f32], dims: Dims) -> Result<GpuTensor> {
        check(data.len() == dims.len(), || format!("upload: {} values for dims {dims:?}", data.len()))?;
        let buf = self.inner.rec.upload(&self.inner.ctx, "webclip input", bytemuck::cast_slice(data))?;
        self.inner.uploads.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(GpuTensor { dims, buf: Arc::new(buf) })
    }

    async fn read(&self, x: &GpuTensor) -> Result<Vec<f32>> {
        let i = &self.inner;
        i.ctx.check("recording the forward pass")?;
        let bytes = i.rec.read(&i.ctx, x.buffer(), (x.dims.len() * 4) as u64).await?;
        Ok(bytemuck::pod_collect_to_vec(&bytes))
    }

    fn dims(&self, x: &GpuTensor) -> Dims {
        x.dims
    }

    fn max_tensor_bytes(&self) -> usize {
        self.inner.max_binding.try_into().unwrap_or(usize::MAX)
    }

    fn embed_tokens(
        &self,
        ids: &[u32],
        position_ids: Option<&[u32]>,
        batch: usize,
        tokens: &GpuTable,
        positions: &GpuTable,
    ) -> Result<GpuTensor> {
        crate::backend::check_embed(ids, position_ids, batch, tokens.rows, positions.rows)?;
        check(positions.chunks.len() == 1 && positions.kind == Kind::F32 && tokens.dim == positions.dim, || {
            format!(
                "position table ({} x {}, {}) must be f32, fit one binding and match the token width {}",
                positions.rows, positions.dim, positions.kind, tokens.dim
            )
        })?;
        let seq = ids.len() / batch;
        // the kernel reads explicit position ids: HF's default (0, 1, …, seq − 1 in each sequence) is written here
        let default_ids: Vec<u32>;
        let position_ids = match position_ids {
            Some(p) => p,
            None => {
                default_ids = (0..ids.len()).map(|t| (t % seq.max(1)) as u32).collect();
                &default_ids
            }
        };
        let dims = Dims::new(batch, seq, tokens.dim);
        let y = self.alloc(dims)?;
        let ids_buf = self.inner.rec.upload(&self.inner.ctx, "webclip token ids", bytemuck::cast_slice(ids))?;
        let pos_buf =
            self.inner.rec.upload(&self.inner.ctx, "webclip position ids", bytemuck::cast_slice(position_ids))?;
        let groups = self.elementwise_grid(dims.len())?;
        for (c, (row0, rows, table)) in tokens.chunks.iter().enumerate() {
            let (wpr, bpr) = (table.words_per_row as u32, table.blocks_per_row as u32);
            // chunks that no id falls in add nothing; the first always runs (it writes the positions)
            if c > 0 && !ids.iter().any(|&id| (*row0..row0 + rows).contains(&(id as usize))) {
                continue;
            }
            let params = [dims.len() as u32, tokens.dim as u32, *row0 as u32, *rows as u32, (c == 0) as u32, wpr, bpr];
            let scales = table.scales.as_ref().unwrap_or(&self.inner.unused);
            self.dispatch(
                Kernel::EmbedTokens(tokens.kind),
                &params,
                &[ids_buf.buffer(), &table.words, &positions.chunks[0].2.words, y.buffer(), scales, pos_buf.buffer()],
                groups,
            )?;
        }
        Ok(y)
    }

    fn patchify(
        &self,
        pixels: &GpuTensor,
        channels: usize,
        height: usize,
        width: usize,
        patch: usize,
    ) -> Result<GpuTensor> {
        check(pixels.dims.seq * pixels.dims.dim == channels * height * width && patch > 0, || {
            format!("patchify: image tensor {:?} is not {channels}x{height}x{width}", pixels.dims)
        })?;
        let (gh, gw) = (height / patch, width / patch);
        let y = self.alloc(Dims::new(pixels.dims.batch, gh * gw, channels * patch * patch))?;
        let n = y.dims.len();
        let params = [n as u32, channels as u32, height as u32, width as u32, patch as u32];
        self.dispatch(Kernel::Patchify, &params, &[pixels.buffer(), y.buffer()], self.elementwise_grid(n)?)?;
        Ok(y)
    }

    fn add_positions(&self, x: &GpuTensor, prefix: Option<&GpuVector>, positions: &GpuTable) -> Result<GpuTensor> {
        let seq = x.dims.seq + prefix.is_some() as usize;
        check(seq == positions.rows && positions.dim == x.dims.dim, || {
            format!("add_positions: {seq} tokens of {}, but {} position embeddings", x.dims.dim, positions.rows)
        })?;
        check(prefix.is_none_or(|p| p.len == x.dims.dim), || {
            format!("add_positions: prefix row of {} for {} features", prefix.map_or(0, |p| p.len), x.dims.dim)
        })?;
        check(positions.chunks.len() == 1 && positions.kind == Kind::F32, || {
            format!(
                "position table ({} x {}, {}) must be f32 and fit one binding",
                positions.rows, positions.dim, positions.kind
            )
        })?;
        let y = self.alloc(Dims::new(x.dims.batch, seq, x.dims.dim))?;
        let n = y.dims.len();
        let params = [n as u32, seq as u32, y.dims.dim as u32, prefix.is_some() as u32];
        // without a prefix, binding 2 is never read: x stands in for it
        let bufs = [x.buffer(), prefix.map_or(x.buffer(), |p| &p.buffer), &positions.chunks[0].2.words, y.buffer()];
        self.dispatch(Kernel::AddPositions, &params, &bufs, self.elementwise_grid(n)?)?;
        Ok(y)
    }

    fn layer_norm(&self, x: &GpuTensor, weight: &GpuVector, bias: &GpuVector, eps: f32) -> Result<GpuTensor> {
        check(weight.len == x.dims.dim && bias.len == x.dims.dim, || {
            format!("layer_norm: {} features, weight {} and bias {}", x.dims.dim, weight.len, bias.len)
        })?;
        let y = self.alloc(x.dims)?;
        let params = [x.dims.rows() as u32, x.dims.dim as u32, eps.to_bits()];
        let bufs = [x.buffer(), &weight.buffer, &bias.buffer, y.buffer()];
        self.dispatch(Kernel::LayerNorm, &params, &bufs, self.grid(x.dims.rows())?)?;
        Ok(y)
    }

    fn matmul(&self, x: &GpuTensor, w: &GpuLinear) -> Result<GpuTensor> {
        self.linear_fused(x, w, None, None)
    }

    fn matmul_act(&self, x: &GpuTensor, w: &GpuLinear, act: Activation) -> Result<GpuTensor> {
        self.linear_fused(x, w, Some(act), None)
    }

    fn matmul_add(&self, x: &GpuTensor, w: &GpuLinear, residual: &GpuTensor) -> Result<GpuTensor> {
        self.linear_fused(x, w, None, Some(residual))
    }

    fn activation(&self, x: &GpuTensor, act: Activation) -> Result<GpuTensor> {
        let y = self.alloc(x.dims)?;
        let n = x.dims.len();
        let params = [n as u32, act_kind(Some(act))];
        self.dispatch(Kernel::Activation, &params, &[x.buffer(), y.buffer()], self.elementwise_grid(n)?)?;
        Ok(y)
    }

    fn add(&self, a: &GpuTensor, b: &GpuTensor) -> Result<GpuTensor> {
        check(a.dims == b.dims, || format!("add: {:?} vs {:?}", a.dims, b.dims))?;
        let y = self.alloc(a.dims)?;
        let n = a.dims.len();
        self.dispatch(Kernel::Add, &[n as u32, 0], &[a.buffer(), b.buffer(), y.buffer()], self.elementwise_grid(n)?)?;
        Ok(y)
    }

    fn attention(&self, q: &GpuTensor, k: &GpuTensor, v: &GpuTensor, heads: usize, mask: Mask) -> Result<GpuTensor> {
        let d = q.dims;
        crate::backend::check_attention(q.dims, k.dims, v.dims, heads, mask)?;
        let hd = d.dim / heads;
        check(hd <= MAX_HEAD_DIM, || {
            format!("attention: head size {hd} > {MAX_HEAD_DIM}, the most attention.wgsl holds")
        })?;
        let groups = checked_grid([d.seq, heads, d.batch], self.max_workgroups(), |axis| {
            format!("attention over {d:?} in {heads} heads (one workgroup per {})", ["token", "head", "sequence"][axis])
        })?;
        let y = self.alloc(d)?;
        let scale = (1.0 / (hd as f64).sqrt()) as f32;
        let (mask_kind, parents) = match mask {
            Mask::None => (0, None),
            Mask::Causal => (1, None),
            Mask::Tree(p) => {
                let upload = || self.inner.rec.upload(&self.inner.ctx, "webclip tree parents", bytemuck::cast_slice(p));
                (2, (!p.is_empty()).then(upload).transpose()?)
            }
        };
        let params =
            [d.seq as u32, k.dims.seq as u32, d.dim as u32, heads as u32, hd as u32, mask_kind, scale.to_bits()];
        // without a tree, binding 5 is never read: the unused buffer stands in for it
        let parents = parents.as_ref().map_or(&self.inner.unused, |p| p.buffer());
        let bufs = [q.buffer(), k.buffer(), v.buffer(), y.buffer(), parents];
        self.dispatch(Kernel::Attention, &params, &bufs, groups)?;
        Ok(y)
    }

    fn gather_rows(&self, x: &GpuTensor, rows: &[usize]) -> Result<GpuTensor> {
        crate::backend::check_gather(x.dims, rows)?;
        let y = self.alloc(Dims::new(rows.len(), 1, x.dims.dim))?;
        let rows32: Vec<u32> = rows.iter().map(|&r| r as u32).collect();
        let rows_buf = self.inner.rec.upload(&self.inner.ctx, "webclip pooled rows", bytemuck::cast_slice(&rows32))?;
        let n = y.dims.len();
        let params = [rows.len() as u32, x.dims.dim as u32];
        self.dispatch(
            Kernel::GatherRows,
            &params,
            &[x.buffer(), rows_buf.buffer(), y.buffer()],
            self.elementwise_grid(n)?,
        )?;
        Ok(y)
    }

    fn normalize(&self, x: &GpuTensor) -> Result<GpuTensor> {
        self.rows_op(Kernel::Normalize, x)
    }

    fn logits(&self, a: &GpuTensor, b: &GpuTensor, scale: f32, bias: f32) -> Result<GpuTensor> {
        check(a.dims.dim == b.dims.dim, || format!("logits: {:?} vs {:?}", a.dims, b.dims))?;
        let (n_a, n_b) = (a.dims.rows(), b.dims.rows());
        let y = self.alloc(Dims::new(1, n_a, n_b))?;
        let params = [n_a as u32, n_b as u32, a.dims.dim as u32, scale.to_bits(), bias.to_bits()];
        self.dispatch(
            Kernel::Logits,
            &params,
            &[a.buffer(), b.buffer(), y.buffer()],
            self.elementwise_grid(n_a * n_b)?,
        )?;
        Ok(y)
    }

    fn softmax(&self, x: &GpuTensor) -> Result<GpuTensor> {
        self.rows_op(Kernel::Softmax, x)
    }

    fn sigmoid(&self, x: &GpuTensor) -> Result<GpuTensor> {
        self.rows_op(Kernel::Sigmoid, x)
    }
}

impl Gpu {
    /// A row-wise kernel of similarity.wgsl (one workgroup per row).
    fn rows_op(&self, kernel: Kernel, x: &GpuTensor) -> Result<GpuTensor> {
        let y = self.alloc(x.dims)?;
        let params = [x.dims.rows() as u32, x.dims.dim as u32];
        self.dispatch(kernel, &params, &[x.buffer(), y.buffer()], self.grid(x.dims.rows())?)?;
        Ok(y)
    }
}
