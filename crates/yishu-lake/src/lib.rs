//! yishu-lake
