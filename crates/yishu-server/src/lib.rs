//! yishu-server
