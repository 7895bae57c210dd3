//! The SDK's API (sdk/interface/SKP_Silk_SDK_API.h and SKP_Silk_control.h), declared by hand:
//! `SKP_int` is C `int`, `SKP_int32` a 32-bit int, `SKP_int16` a 16-bit one.

use std::os::raw::c_int;

/// `SKP_SILK_SDK_EncControlStruct`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct EncControl {
    pub api_sample_rate: i32,
    pub max_internal_sample_rate: i32,
    /// Samples per packet: 20, 40, 60, 80 or 100 ms at `api_sample_rate`.
    pub packet_size: c_int,
    pub bit_rate: i32,
    pub packet_loss_percentage: c_int,
    /// 0, 1 or 2 (highest).
    pub complexity: c_int,
    pub use_in_band_fec: c_int,
    pub use_dtx: c_int,
}

/// `SKP_SILK_SDK_DecControlStruct`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct DecControl {
    pub api_sample_rate: i32,
    pub frame_size: c_int,
    pub frames_per_packet: c_int,
    /// Non-zero while the packet last given holds more frames: decode it again.
    pub more_internal_decoder_frames: c_int,
    pub in_band_fec_offset: c_int,
}

unsafe extern "C" {
    pub fn SKP_Silk_SDK_Get_Encoder_Size(enc_size_bytes: *mut i32) -> c_int;
    pub fn SKP_Silk_SDK_InitEncoder(
        enc_state: *mut std::ffi::c_void,
        status: *mut EncControl,
    ) -> c_int;
    pub fn SKP_Silk_SDK_Encode(
        enc_state: *mut std::ffi::c_void,
        control: *const EncControl,
        samples_in: *const i16,
        n_samples_in: c_int,
        out_data: *mut u8,
        n_bytes_out: *mut i16,
    ) -> c_int;
    pub fn SKP_Silk_SDK_Get_Decoder_Size(dec_size_bytes: *mut i32) -> c_int;
    pub fn SKP_Silk_SDK_InitDecoder(dec_state: *mut std::ffi::c_void) -> c_int;
    pub fn SKP_Silk_SDK_Decode(
        dec_state: *mut std::ffi::c_void,
        control: *mut DecControl,
        lost_flag: c_int,
        in_data: *const u8,
        n_bytes_in: c_int,
        samples_out: *mut i16,
        n_samples_out: *mut i16,
    ) -> c_int;
}
