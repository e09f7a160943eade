//! ggml Q4_0 blocks: 32 weights share one f16 scale and are stored as 16 bytes of nibbles
//! (byte j holds weight j in its low nibble and weight j+16 in its high nibble; value =
//! (nibble - 8) * scale). The word-embedding table stays in this form in memory (54 MB instead of
//! 384 MB in f32); a row is dequantized only when a token looks it up.

/// Weights per block.
pub const BLOCK: usize = 32;
/// Bytes per block: f16 scale + 16 bytes of nibbles.
pub const BLOCK_BYTES: usize = 18;

/// Bytes taken by a row of `n` weights (`n` must be a multiple of [`BLOCK`]).
pub fn row_bytes(n: usize) -> usize {
    n / BLOCK * BLOCK_BYTES
}

/// Dequantizes Q4_0 `blocks` into `out` (`out.len()` weights, a multiple of [`BLOCK`]).
pub fn dequantize(blocks: &[u8], out: &mut [f32]) {
    debug_assert_eq!(blocks.len(), row_bytes(out.len()));
    for (block, o) in blocks
        .chunks_exact(BLOCK_BYTES)
        .zip(out.chunks_exact_mut(BLOCK))
    {
        let scale = half::f16::from_le_bytes([block[0], block[1]]).to_f32();
        for (j, &b) in block[2..].iter().enumerate() {
            o[j] = ((b & 0x0f) as i32 - 8) as f32 * scale;
            o[j + 16] = ((b >> 4) as i32 - 8) as f32 * scale;
        }
    }
}

/// Quantizes `values` (a multiple of [`BLOCK`]) to Q4_0 the way ggml does; used by tests and by
/// tools that build small models.
pub fn quantize(values: &[f32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(row_bytes(values.len()));
    for block in values.chunks_exact(BLOCK) {
        // ggml picks the value of largest magnitude and maps it to -8, keeping its sign.
        let max = block
            .iter()
            .copied()
            .fold(0f32, |m, v| if v.abs() > m.abs() { v } else { m });
        let d = max / -8.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        out.extend_from_slice(&half::f16::from_f32(d).to_le_bytes());
        for j in 0..16 {
            let q = |v: f32| ((v * id + 8.5) as i32).clamp(0, 15) as u8;
            out.push(q(block[j]) | (q(block[j + 16]) << 4));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_is_close() {
        let values: Vec<f32> = (0..64)
            .map(|i| ((i * 37) % 29) as f32 / 7.0 - 2.0)
            .collect();
        let q = quantize(&values);
        assert_eq!(q.len(), 36);
        let mut back = vec![0f32; 64];
        dequantize(&q, &mut back);
        for (a, b) in values.iter().zip(&back) {
            assert!((a - b).abs() < 0.3, "{a} vs {b}");
        }
    }

    #[test]
    fn nibble_layout_low_then_high() {
        // scale 1.0, byte 0 = 0x9A -> weight 0 = 0xA-8 = 2, weight 16 = 0x9-8 = 1
        let mut block = half::f16::from_f32(1.0).to_le_bytes().to_vec();
        block.push(0x9a);
        block.extend(std::iter::repeat_n(0x88, 15));
        let mut out = [0f32; 32];
        dequantize(&block, &mut out);
        assert_eq!(out[0], 2.0);
        assert_eq!(out[16], 1.0);
        assert_eq!(out[1], 0.0);
    }
}
