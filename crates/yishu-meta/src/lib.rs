//! yishu-meta
