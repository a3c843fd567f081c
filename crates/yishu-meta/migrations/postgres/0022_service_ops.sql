-- Operating data services (R29, R30, R37): calls per service version, consumer department and
-- day with a latency histogram (13 buckets, see service_stats.rs); each API's SLA; the switches
-- that cut an API off for everybody (org_id 0) or for one consumer department.
CREATE TABLE service_stats (
    service TEXT NOT NULL,
    version BIGINT NOT NULL,
    org_id BIGINT NOT NULL,
    day TEXT NOT NULL,
    calls BIGINT NOT NULL,
    refused BIGINT NOT NULL,
    failed BIGINT NOT NULL,
    rows_out BIGINT NOT NULL,
    b0 BIGINT NOT NULL, b1 BIGINT NOT NULL, b2 BIGINT NOT NULL, b3 BIGINT NOT NULL, b4 BIGINT NOT NULL, b5 BIGINT NOT NULL, b6 BIGINT NOT NULL, b7 BIGINT NOT NULL, b8 BIGINT NOT NULL, b9 BIGINT NOT NULL, b10 BIGINT NOT NULL, b11 BIGINT NOT NULL, b12 BIGINT NOT NULL,
    last_at BIGINT NOT NULL,
    PRIMARY KEY (service, version, org_id, day)
);
CREATE TABLE service_slas (
    service TEXT PRIMARY KEY,
    -- percent of calls answered without a server failure, e.g. 99.9
    availability DOUBLE PRECISION NOT NULL,
    p99_ms BIGINT NOT NULL,
    set_by BIGINT NOT NULL REFERENCES users(id),
    set_at BIGINT NOT NULL
);
CREATE TABLE service_cutoffs (
    service TEXT NOT NULL,
    org_id BIGINT NOT NULL,
    reason TEXT NOT NULL,
    cut_by BIGINT NOT NULL REFERENCES users(id),
    cut_at BIGINT NOT NULL,
    PRIMARY KEY (service, org_id)
);
