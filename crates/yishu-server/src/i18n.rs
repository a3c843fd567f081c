//! The one message catalog for pages: each key has a Chinese (default) and an English text.

use std::collections::HashMap;
use std::sync::LazyLock;

/// Page language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }
}

const MESSAGES: &[(&str, &str, &str)] = &[
    (
        "app.name",
        "一数 · 政务数据资源平台",
        "Yishu · Government Data Resource Platform",
    ),
    ("app.short", "一数", "Yishu"),
    (
        "app.motto",
        "一数一源、多源校核",
        "One datum, one source; every other source cross-checks",
    ),
    ("nav.overview", "概览", "Overview"),
    ("nav.catalog", "目录", "Catalog"),
    ("nav.collect", "归集", "Collection"),
    ("nav.quality", "质量", "Quality"),
    ("nav.fusion", "融合/基础库", "Fusion / base libraries"),
    ("nav.share", "共享", "Sharing"),
    ("nav.open", "开放", "Open data"),
    ("nav.audit", "审计", "Audit"),
    ("nav.system", "系统管理", "System"),
    ("nav.orgs", "组织机构", "Organisations"),
    ("nav.users", "用户与角色", "Users and roles"),
    ("nav.keys", "我的 API 密钥", "My API keys"),
    ("nav.soon", "即将推出", "Coming soon"),
    ("nav.logout", "退出登录", "Sign out"),
    ("nav.lang", "English", "中文"),
    ("nav.api_docs", "API 文档", "API docs"),
    ("login.title", "登录", "Sign in"),
    ("login.name", "用户名", "User name"),
    ("login.password", "密码", "Password"),
    ("login.submit", "登录", "Sign in"),
    ("portal.title", "公共数据开放门户", "Open data portal"),
    (
        "portal.intro",
        "本平台汇聚各部门政务数据资源，统一编目、归集、治理、共享与开放。",
        "This platform gathers the data resources of every department to catalog, collect, govern, share and open them in one place.",
    ),
    ("portal.console", "进入管理控制台", "Open the console"),
    ("overview.title", "平台概览", "Platform overview"),
    ("overview.orgs", "组织机构", "Organisations"),
    ("overview.users", "用户", "Users"),
    ("overview.audit", "审计记录", "Audit records"),
    ("overview.welcome", "欢迎", "Welcome"),
    ("overview.roles", "角色", "Roles"),
    ("orgs.title", "组织机构", "Organisations"),
    ("orgs.code", "编码", "Code"),
    ("orgs.name", "名称", "Name"),
    ("orgs.kind", "类型", "Kind"),
    ("orgs.level", "层级", "Level"),
    ("orgs.parent", "上级", "Parent"),
    (
        "orgs.credit_code",
        "统一社会信用代码",
        "Unified social credit code",
    ),
    ("orgs.division", "行政区划代码", "Division code"),
    ("orgs.status", "状态", "Status"),
    ("orgs.create", "新建组织", "New organisation"),
    ("orgs.kind.level", "行政层级", "Platform level"),
    ("orgs.kind.department", "委办局", "Department"),
    ("orgs.level.province", "省", "Province"),
    ("orgs.level.city", "市", "City"),
    ("orgs.level.district", "区县", "District"),
    ("orgs.none", "（无）", "(none)"),
    ("orgs.rename", "改名", "Rename"),
    ("orgs.move", "移动到", "Move under"),
    ("orgs.disable", "停用", "Disable"),
    ("orgs.enable", "启用", "Enable"),
    ("status.active", "启用", "Active"),
    ("status.disabled", "停用", "Disabled"),
    ("users.title", "用户与角色", "Users and roles"),
    ("users.name", "用户名", "User name"),
    ("users.display_name", "姓名", "Full name"),
    ("users.org", "所属组织", "Organisation"),
    ("users.roles", "角色", "Roles"),
    (
        "users.password",
        "初始密码（至少10位）",
        "Initial password (10+ characters)",
    ),
    ("users.create", "新建用户", "New user"),
    ("users.save_roles", "保存角色", "Save roles"),
    ("keys.title", "我的 API 密钥", "My API keys"),
    ("keys.name", "名称", "Name"),
    ("keys.prefix", "前缀", "Prefix"),
    ("keys.created", "创建时间", "Created"),
    ("keys.expires", "过期时间", "Expires"),
    (
        "keys.days",
        "有效天数（留空为不过期）",
        "Valid for days (blank: no expiry)",
    ),
    ("keys.state", "状态", "State"),
    ("keys.create", "创建密钥", "Create key"),
    ("keys.revoke", "吊销", "Revoke"),
    ("keys.revoked", "已吊销", "Revoked"),
    ("keys.never", "永不", "Never"),
    (
        "keys.secret_once",
        "请立即保存此密钥，它只显示这一次：",
        "Store this key now; it is shown only once:",
    ),
    ("audit.title", "审计日志", "Audit log"),
    ("audit.seq", "序号", "No."),
    ("audit.at", "时间", "Time"),
    ("audit.actor", "操作人", "Actor"),
    ("audit.action", "操作", "Action"),
    ("audit.object", "对象", "Object"),
    ("audit.ip", "来源IP", "Source IP"),
    ("audit.outcome", "结果", "Outcome"),
    ("audit.detail", "详情", "Detail"),
    ("audit.filter", "筛选", "Filter"),
    ("audit.verify", "校验审计链", "Verify the chain"),
    ("audit.intact", "审计链完整", "The audit chain is intact"),
    ("audit.broken", "审计链被篡改", "The audit chain is broken"),
    ("audit.records", "条记录", "records"),
    ("catalog.title", "政务信息资源目录", "Data resource catalog"),
    ("catalog.code", "资源代码", "Code"),
    ("catalog.name", "资源名称", "Name"),
    ("catalog.provider", "提供方", "Provider"),
    ("catalog.share", "共享属性", "Sharing"),
    ("catalog.open", "开放属性", "Opening"),
    ("catalog.cycle", "更新周期", "Update cycle"),
    ("catalog.status", "状态", "Status"),
    ("catalog.class", "资源分类", "Class"),
    ("catalog.summary", "资源摘要", "Summary"),
    ("catalog.format", "资源格式", "Format"),
    ("catalog.published", "发布日期", "Published"),
    ("catalog.keywords", "关键字", "Keywords"),
    ("catalog.contact", "联系方式", "Contact"),
    ("catalog.items", "信息项", "Information items"),
    ("catalog.item_name", "信息项名称", "Item"),
    ("catalog.item_type", "数据类型", "Type"),
    ("catalog.item_length", "长度", "Length"),
    ("catalog.data_element", "数据元", "Data element"),
    ("catalog.versions", "版本", "Versions"),
    ("catalog.version", "版本号", "Version"),
    ("catalog.changes", "变更内容", "Changes"),
    ("catalog.batches", "归集批次", "Ingest batches"),
    ("catalog.batch", "批次", "Batch"),
    ("catalog.source", "来源", "Source"),
    ("catalog.rows_read", "读取行数", "Rows read"),
    ("catalog.rows_stored", "入库行数", "Rows stored"),
    ("catalog.rows_quarantined", "隔离行数", "Rows quarantined"),
    ("catalog.search", "检索", "Search"),
    (
        "overview.notifications",
        "我关注的资源动态",
        "News of resources I watch",
    ),
    ("catalog.download", "下载", "Download"),
    ("lifecycle.submit", "提交审核", "Submit for review"),
    ("lifecycle.approve", "审核通过", "Approve"),
    ("lifecycle.reject", "驳回", "Reject"),
    ("lifecycle.publish", "发布", "Publish"),
    ("lifecycle.retire", "下线", "Retire"),
    ("lifecycle.reason", "原因（必填）", "Reason (required)"),
    ("lifecycle.done", "已完成，当前状态", "Done; status now"),
    ("fill.title", "数据填报", "Fill in data"),
    ("fill.save", "保存一行", "Save this row"),
    (
        "fill.template",
        "下载填报模板（Excel）",
        "Download the filling template (Excel)",
    ),
    (
        "fill.upload",
        "上传填好的模板或数据文件",
        "Upload a filled template or data file",
    ),
    ("fill.send", "上传", "Upload"),
    (
        "fill.already",
        "这份数据已经入库，未重复写入：批次",
        "Already stored, nothing written again: batch",
    ),
    ("source.add", "添加数据源", "Add source"),
    (
        "mapping.label",
        "列与信息项的对应（可选，每行一对：列名=信息项）",
        "Column → item pairs (optional, one per line: column=item)",
    ),
    (
        "mapping.confirm",
        "文件的列名与信息项不一致。下面是系统建议的对应关系，请核对修改后重新选择文件上传。",
        "The file's columns do not match the items. Check the proposed pairs below, then choose the file again and upload.",
    ),
    (
        "mount.title",
        "逻辑挂接（不复制数据）",
        "Logical mounting (nothing copied)",
    ),
    ("mount.kind", "挂接到", "Mount on"),
    (
        "mount.external_table",
        "部门数据库的表",
        "A table in the department's database",
    ),
    ("mount.api", "HTTP 接口", "An HTTP API"),
    (
        "mount.none",
        "取消挂接（使用贴源层表）",
        "Unmount (use the ods table)",
    ),
    ("mount.url", "地址", "Address"),
    ("mount.table", "表名", "Table"),
    ("mount.save", "保存挂接", "Save mount"),
    ("mount.done", "已挂接", "Mounted on"),
    ("mount.columns", "列", "columns"),
    (
        "mount.removed",
        "已取消挂接，数据回到贴源层表",
        "Unmounted; the data is the ods table again",
    ),
    (
        "sample.title",
        "样例数据（最新 10 行）",
        "Sample rows (newest 10)",
    ),
    ("sample.from", "来自", "From"),
    ("sample.none", "还没有数据", "No data yet"),
    ("sample.link", "查看样例数据", "See sample rows"),
    (
        "import.title",
        "批量编目导入结果",
        "Bulk cataloguing import",
    ),
    (
        "import.refused",
        "编目表有错误，未导入任何资源。请修改后重新上传，或勾选“只导入无误的行”。",
        "The workbook has errors; nothing was imported. Fix them and upload again, or choose to import the valid rows only.",
    ),
    ("import.created", "已导入为草稿", "Imported as drafts"),
    ("import.errors", "错误", "Errors"),
    ("import.sheet", "工作表", "Sheet"),
    ("import.row", "行", "Row"),
    ("import.column", "列", "Column"),
    ("import.message", "问题", "Problem"),
    ("import.export_xlsx", "导出目录（Excel）", "Export (Excel)"),
    (
        "import.template",
        "下载编目表模板",
        "Download the cataloguing template",
    ),
    (
        "import.file",
        "上传填好的编目表",
        "Upload a filled cataloguing workbook",
    ),
    (
        "import.valid_only",
        "只导入无误的行",
        "Import the valid rows only",
    ),
    ("import.submit", "导入", "Import"),
    ("edit.new", "新建资源目录", "New catalog entry"),
    ("edit.title", "修改资源目录", "Edit catalog entry"),
    (
        "edit.class_path",
        "类目编码（项 2 位 + 目 3 位 + 细目 3 位）",
        "Class path (2+3+3 digits)",
    ),
    (
        "edit.share_condition",
        "共享条件或依据",
        "Sharing condition or legal basis",
    ),
    ("edit.open_condition", "开放条件", "Opening condition"),
    (
        "edit.sensitivity",
        "涉密/敏感级别",
        "Secrecy / sensitivity level",
    ),
    ("edit.spatial", "空间范围", "Spatial coverage"),
    ("edit.time", "时间范围", "Time coverage"),
    ("edit.related", "关联资源代码", "Related resource codes"),
    (
        "edit.items_help",
        "每行一个：名称,类型,长度,数据元,说明；类型",
        "one per line: name,type,length,data element,description; types",
    ),
    ("edit.save", "保存", "Save"),
    ("edit.saved", "已保存，版本", "Saved, version"),
    ("edit.edit", "修改", "Edit"),
    ("batch.started", "开始归集，来源", "Started, from"),
    (
        "batch.running",
        "进行中，已读取",
        "Running, rows read so far",
    ),
    ("batch.rows", "行", "rows"),
    (
        "batch.failed",
        "失败，批次作废，湖中没有它的任何数据",
        "Failed; nothing of it is in the lake",
    ),
    (
        "batch.unchanged",
        "数据未变化，未写入",
        "Unchanged, nothing written",
    ),
    ("batch.rejected", "隔离原因", "Rejected for"),
    (
        "batch.done",
        "完成，一次提交生效",
        "Done, visible in one commit",
    ),
    ("batch.version", "湖表版本", "lake version"),
    ("batch.checksum", "来源校验和", "Source checksum"),
    ("batch.log", "作业日志", "Job log"),
    (
        "batch.quarantine",
        "隔离数据（前 100 行）",
        "Rejected rows (first 100)",
    ),
    (
        "batch.download_xlsx",
        "下载全部隔离数据（Excel）",
        "Download all rejected rows (Excel)",
    ),
    ("batch.download_csv", "下载 CSV", "Download CSV"),
    (
        "batch.not_yours",
        "隔离的原始数据只有提供部门和数据管理部门可以查看。",
        "Only the providing department and the bureau may read rejected rows.",
    ),
    (
        "matter.list",
        "权责事项清单",
        "Duty list (business matters)",
    ),
    ("matter.code", "事项编码", "Code"),
    ("matter.name", "事项名称", "Matter"),
    ("matter.kind", "事项类型", "Kind"),
    ("matter.org", "实施部门", "Department"),
    (
        "matter.none",
        "还没有登记权责事项",
        "No matters recorded yet",
    ),
    (
        "matter.produces",
        "产生的数据资源和信息项",
        "Resources and items it produces",
    ),
    ("matter.all_items", "全部信息项", "all items"),
    (
        "matter.of_resource",
        "产生本资源的业务事项",
        "Business matters that produce this resource",
    ),
    (
        "attach.title",
        "附件（非结构化数据）",
        "Attachments (files that are not tables)",
    ),
    ("attach.name", "文件", "File"),
    ("attach.type", "类型", "Type"),
    ("attach.size", "大小", "Size"),
    ("attach.text", "可检索文字数", "Searchable characters"),
    ("attach.description", "说明", "Description"),
    ("attach.pages", "页", "pages"),
    (
        "attach.file",
        "PDF、Word（DOCX）或图片",
        "PDF, Word (DOCX) or image",
    ),
    ("attach.add", "添加附件", "Attach"),
    ("attach.added", "附件已添加", "Attached"),
    (
        "attach.same",
        "同一文件已是附件",
        "This file is already attached",
    ),
    ("source.added", "数据源已添加", "Source added"),
    (
        "source.kind.database",
        "前置库表",
        "Front-end database table",
    ),
    ("source.kind.drop_dir", "文件投递目录", "Drop directory"),
    ("source.title", "数据源与采集调度", "Sources and schedules"),
    ("drift.title", "数据挂接与漂移", "Mounting and drift"),
    ("drift.table", "挂接表", "Mounted on"),
    (
        "drift.unmounted",
        "尚未挂接（还没有数据）",
        "not mounted yet (no data)",
    ),
    ("drift.stale", "数据缺失或过期", "Data missing or stale"),
    (
        "drift.clean",
        "信息项与实际数据一致",
        "Items match the data",
    ),
    (
        "drift.no_column",
        "有信息项无数据列",
        "Items without a column",
    ),
    (
        "drift.no_item",
        "有数据列无信息项",
        "Columns without an item",
    ),
    ("drift.type", "类型不符", "Type mismatch"),
    ("drift.example", "例如", "e.g."),
    ("source.kind", "类型", "Kind"),
    ("source.config", "连接设置", "Settings"),
    ("source.schedule", "调度", "Schedule"),
    ("source.watermark", "水位", "Watermark"),
    ("source.last", "上次运行", "Last run"),
    ("source.next", "下次运行", "Next run"),
    (
        "catalog.search_hint",
        "输入中文关键词，如“户籍 人口”，或资源代码",
        "Words (Chinese or English) or a resource code",
    ),
    ("catalog.found", "找到资源", "Resources found"),
    ("catalog.took", "用时", "took"),
    (
        "catalog.no_results",
        "没有符合条件的资源，请换个关键词或减少筛选条件。",
        "No resource matches; try other words or fewer filters.",
    ),
    ("catalog.prev", "上一页", "Previous"),
    ("catalog.next", "下一页", "Next"),
    ("catalog.clear", "清除筛选", "Clear filters"),
    ("catalog.usage", "使用情况", "Usage"),
    ("catalog.views", "浏览次数", "Views"),
    ("catalog.search_hits", "被检索命中", "Found by searches"),
    ("catalog.applications", "共享申请", "Applications"),
    ("catalog.calls", "接口调用", "API calls"),
    ("common.submit", "提交", "Submit"),
    ("common.total", "共", "Total"),
    ("common.prev", "上一页", "Previous"),
    ("common.next", "下一页", "Next"),
    ("common.error", "操作失败", "Failed"),
    ("common.saved", "已保存", "Saved"),
    (
        "common.forbidden",
        "您没有执行此操作的权限。",
        "You do not have the right to do this.",
    ),
    ("common.actions", "操作", "Actions"),
    ("common.save", "保存", "Save"),
    ("quality.accept", "采纳", "Accept"),
    ("quality.purpose", "规则用途", "Purpose"),
    ("quality.purpose_check", "质量检查", "Quality check"),
    ("quality.purpose_clean", "清洗", "Cleaning"),
    ("quality.action", "问题处理方式", "Action on a problem"),
    (
        "quality.action_default",
        "按重要程度×严重程度默认",
        "Default (importance × severity)",
    ),
    (
        "quality.action_filter",
        "过滤（进入隔离区）",
        "Filter (to quarantine)",
    ),
    (
        "quality.action_tolerate",
        "容忍（保留并标记）",
        "Tolerate (keep, flag)",
    ),
    ("quality.std", "标准层（清洗结果）", "Std layer (cleaned)"),
    ("quality.rows_in", "输入行数", "Rows in"),
    ("quality.rows_out", "写入标准层", "Rows to std"),
    ("quality.rows_filtered", "过滤行数", "Rows filtered"),
    ("quality.rows_flagged", "标记行数", "Rows flagged"),
    ("quality.std_rows", "查看标准层数据", "See std rows"),
    ("quality.std_table", "标准层数据", "Std rows"),
    ("quality.elements", "数据元", "Data elements"),
    ("quality.identifier", "标识符", "Identifier"),
    ("quality.format", "表示格式", "Format"),
    ("quality.domain_def", "值域", "Value domain"),
    ("quality.source_standard", "来源标准", "Source standard"),
    (
        "quality.national_tables",
        "国家标准代码表",
        "National code tables",
    ),
    (
        "quality.local_tables",
        "部门代码表",
        "Department code tables",
    ),
    (
        "quality.no_local_tables",
        "尚未导入部门代码表",
        "No department code tables yet",
    ),
    ("quality.acknowledge", "签收", "Acknowledge"),
    (
        "quality.all_missing",
        "全部缺失的字段",
        "All-missing fields",
    ),
    (
        "quality.approve_business",
        "业务负责人通过",
        "Approve (business owner)",
    ),
    (
        "quality.approve_technical",
        "技术负责人通过",
        "Approve (technical owner)",
    ),
    ("quality.business_owner", "业务负责人", "Business owner"),
    ("quality.business_rule", "所属业务规则", "Business rule"),
    ("quality.bytes", "存储大小（字节）", "Storage (bytes)"),
    ("quality.checked", "检查数", "Checked"),
    ("quality.code_table", "代码表", "Code table"),
    ("quality.conform_rate", "符合率", "Conforming"),
    (
        "quality.conformance",
        "数据元符合性",
        "Conformance to data elements",
    ),
    (
        "quality.definition",
        "规则定义（JSON）",
        "Definition (JSON)",
    ),
    ("quality.department", "部门", "Department"),
    ("quality.dimension", "质量维度", "Dimension"),
    ("quality.discard", "忽略", "Discard"),
    ("quality.distinct", "唯一值数（率）", "Distinct (rate)"),
    ("quality.domain", "值域不符", "Domain failures"),
    ("quality.due", "整改期限", "Due"),
    ("quality.duplicate", "重复值数（率）", "Duplicates (rate)"),
    (
        "quality.duplicate_records",
        "重复记录数",
        "Duplicate records",
    ),
    ("quality.element", "数据元", "Data element"),
    ("quality.evidence", "问题证据", "Evidence"),
    ("quality.failed", "问题数", "Failed"),
    ("quality.field", "字段", "Field"),
    ("quality.fields", "字段数", "Fields"),
    (
        "quality.fields_with_missing",
        "含缺失值的字段数",
        "Fields with missing values",
    ),
    ("quality.history", "处理记录", "History"),
    ("quality.importance", "重要程度", "Importance"),
    ("quality.in_effect", "生效版本", "In effect"),
    ("quality.length", "长度不符", "Length failures"),
    (
        "quality.lengths",
        "长度（最小/平均/最大）",
        "Length (min/avg/max)",
    ),
    ("quality.mark_fixed", "已整改", "Mark fixed"),
    ("quality.mean", "均值", "mean"),
    ("quality.missing", "缺失数（率）", "Missing (rate)"),
    ("quality.missing_cells", "缺失元素数", "Missing cells"),
    (
        "quality.missing_trend",
        "缺失率趋势（%）",
        "Missing-cell rate (%)",
    ),
    ("quality.new_rule", "新建规则", "New rule"),
    ("quality.no_orders", "暂无工单", "No work orders"),
    ("quality.none", "尚无质量得分", "No scores yet"),
    (
        "quality.not_checked",
        "尚未检查任何批次",
        "No batch checked yet",
    ),
    ("quality.note", "说明", "Note"),
    ("quality.of", "数据质量", "Quality of"),
    ("quality.open_orders", "未关闭工单", "Open orders"),
    ("quality.opened", "发起时间", "Opened"),
    ("quality.order", "整改工单", "Work order"),
    ("quality.order_title", "问题", "Problem"),
    ("quality.order_updated", "工单已更新", "Work order updated"),
    ("quality.orders", "整改工单", "Work orders"),
    ("quality.overdue", "已超期", "Overdue"),
    ("quality.pattern", "表示格式", "Pattern"),
    ("quality.problem", "问题", "Problem"),
    ("quality.profile", "数据探查", "Profile"),
    (
        "quality.profile_xlsx",
        "下载探查结果（XLSX）",
        "Download profile (XLSX)",
    ),
    ("quality.quantiles", "四分位数", "Quartiles"),
    ("quality.range", "最小值 – 最大值", "Min – max"),
    ("quality.ranking", "部门质量排名", "Department ranking"),
    ("quality.records", "记录数", "Records"),
    (
        "quality.import_codes",
        "导入部门代码表",
        "Import a department code table",
    ),
    ("quality.codes_imported", "已导入代码", "Codes imported:"),
    ("quality.table_id", "代码表标识", "Table id"),
    ("quality.table_name", "代码表名称", "Table name"),
    ("quality.national_table", "对应国家代码表", "National table"),
    (
        "quality.codes_file",
        "代码文件（CSV/XLSX，代码、名称两列）",
        "File (CSV/XLSX: code and name columns)",
    ),
    (
        "quality.to_check",
        "以下代码未能按名称对应国家代码，请人工核对",
        "These codes did not match a national code by name: check them",
    ),
    ("quality.local_code", "部门代码", "Local code"),
    ("quality.local_name", "部门名称", "Local name"),
    ("quality.proposed", "建议对应", "Proposed"),
    ("report.title", "数据质量报告", "Quality report"),
    ("report.from", "起始日期", "From"),
    ("report.to", "截止日期", "To"),
    ("report.show", "生成报告", "Show"),
    ("report.xlsx", "下载报告（XLSX）", "Download (XLSX)"),
    ("report.period", "统计期", "Period"),
    ("report.previous", "上期", "previous period"),
    ("report.batches", "检查批次", "Batches checked"),
    (
        "report.dataset",
        "数据集探查（各资源最新一批）",
        "Dataset profile (each resource's newest batch)",
    ),
    ("report.tables", "表数", "Tables"),
    ("report.resource", "资源", "Resource"),
    ("report.first_score", "期初得分", "First score"),
    ("report.last_score", "期末得分", "Last score"),
    (
        "report.nothing",
        "本期没有检查记录",
        "Nothing was checked in this period",
    ),
    ("report.runs", "检查次数", "Runs"),
    ("report.failed_runs", "未通过次数", "Failed runs"),
    ("report.broken", "无法执行", "broken"),
    ("report.pass_rate", "通过率", "Pass rate"),
    ("report.opened", "新开工单", "Opened"),
    ("report.closed", "关闭工单", "Closed"),
    ("report.open_at_end", "期末未关闭", "Open at the end"),
    ("quality.reject", "驳回", "Reject"),
    ("quality.resources", "资源数", "Resources"),
    (
        "quality.results",
        "最近一批的检查结果",
        "Results of the newest batch",
    ),
    ("quality.retire", "停用", "Retire"),
    ("quality.row", "记录位置", "Row"),
    ("quality.rule", "规则", "Rule"),
    ("quality.rule_name", "规则名称", "Rule name"),
    ("quality.rules", "质量规则", "Rules"),
    ("quality.samples", "问题样例", "Samples"),
    ("quality.score", "质量得分", "Score"),
    ("quality.score_trend", "得分趋势", "Score trend"),
    ("quality.severity", "严重程度", "Severity"),
    (
        "quality.standards",
        "数据元与代码表",
        "Data elements and code tables",
    ),
    ("quality.suggestions", "规则建议", "Suggested rules"),
    ("quality.technical_owner", "技术负责人", "Technical owner"),
    ("quality.title", "数据质量", "Data quality"),
    ("quality.top", "高频值", "Top values"),
    (
        "quality.trend",
        "全市质量得分趋势",
        "Score trend (all resources)",
    ),
    ("quality.type", "类型", "Type"),
    ("quality.under_review", "待审核版本", "Under review"),
    ("quality.value", "值", "Value"),
    ("quality.version", "版本", "Version"),
    ("quality.violations", "违规记录数", "Violations"),
    (
        "quality.violations_csv",
        "下载违规记录（CSV）",
        "Download violations (CSV)",
    ),
    ("quality.weights", "维度权重", "Dimension weights"),
    ("quality.zero", "零值数", "Zeros"),
    (
        "quality.rule_saved",
        "规则已提交，待业务与技术负责人审核",
        "Rule saved; it takes effect after both owners approve it",
    ),
    ("quality.reviewed", "已处理", "Done"),
    (
        "quality.suggestion_done",
        "已处理建议",
        "Suggestion handled",
    ),
];

static CATALOG: LazyLock<HashMap<&'static str, (&'static str, &'static str)>> =
    LazyLock::new(|| {
        MESSAGES
            .iter()
            .map(|(k, zh, en)| (*k, (*zh, *en)))
            .collect()
    });

/// Translator handed to templates: `{{ t.t("nav.orgs") }}`.
#[derive(Debug, Clone, Copy)]
pub struct Tr {
    pub lang: Lang,
}

impl Tr {
    /// The text for `key`; an unknown key shows itself so a missing translation is visible.
    pub fn t<'a>(&self, key: &'a str) -> &'a str {
        match CATALOG.get(key) {
            Some((zh, en)) => match self.lang {
                Lang::Zh => zh,
                Lang::En => en,
            },
            None => key,
        }
    }

    pub fn code(&self) -> &'static str {
        self.lang.code()
    }

    /// The other language's query value for the switch link.
    pub fn other(&self) -> &'static str {
        match self.lang {
            Lang::Zh => "en",
            Lang::En => "zh",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_complete() {
        let mut seen = std::collections::HashSet::new();
        for (k, zh, en) in MESSAGES {
            assert!(seen.insert(k), "duplicate key {k}");
            assert!(!zh.is_empty() && !en.is_empty(), "{k} lacks a text");
        }
        assert_eq!(Tr { lang: Lang::En }.t("nav.orgs"), "Organisations");
        assert_eq!(Tr { lang: Lang::Zh }.t("nav.orgs"), "组织机构");
        assert_eq!(Tr { lang: Lang::Zh }.t("no.such"), "no.such");
    }

    /// Every key a template or page asks for has a text in both languages.
    #[test]
    fn templates_use_known_keys() {
        let known: std::collections::HashSet<&str> = MESSAGES.iter().map(|m| m.0).collect();
        let dirs = [
            concat!(env!("CARGO_MANIFEST_DIR"), "/templates"),
            concat!(env!("CARGO_MANIFEST_DIR"), "/src/pages"),
        ];
        let mut missing = Vec::new();
        for dir in dirs {
            for entry in std::fs::read_dir(dir).unwrap().flatten() {
                let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
                for part in text.split("t.t(\"").skip(1) {
                    let key = part.split('"').next().unwrap_or_default();
                    if key.contains('.') && !known.contains(key) {
                        missing.push(format!("{}: {key}", entry.path().display()));
                    }
                }
            }
        }
        assert!(missing.is_empty(), "keys without texts: {missing:#?}");
    }
}
