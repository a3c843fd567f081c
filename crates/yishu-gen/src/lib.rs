//! yishu-gen
