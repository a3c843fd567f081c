//! The synthetic city's department table: each department, each file (or sheet) it hands over,
//! the catalog entry that file feeds and its columns. The generator writes its headers from
//! here, the catalog is built from here, and the fusion plan and the accuracy measurement name
//! columns through here: a column name such as 户籍状态 is written once.

use yishu_meta::catalog::{OpenType, ResourceFormat, ShareType, UpdateCycle};

/// The city's departments (委办局): code, name.
pub const DEPARTMENTS: &[(&str, &str)] = &[
    ("CD-DSJ", "成都市大数据管理局"),
    ("CD-GA", "成都市公安局"),
    ("CD-MZ", "成都市民政局"),
    ("CD-RS", "成都市人力资源和社会保障局"),
    ("CD-WJ", "成都市卫生健康委员会"),
    ("CD-SJ", "成都市市场监督管理局"),
    ("CD-ZJ", "成都市住房和城乡建设局"),
    ("CD-GJJ", "成都住房公积金管理中心"),
];

/// A column of a department's file as the catalog lists it: name, GB/T 21063.3 item type
/// (C N Y D T …) and length.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    pub kind: &'static str,
    pub len: Option<i64>,
}

const fn col(name: &'static str, kind: &'static str, len: Option<i64>) -> Column {
    Column { name, kind, len }
}

/// What a department hands over and the catalog entry it feeds.
#[derive(Debug, Clone, Copy)]
pub struct Dataset {
    pub department: &'static str,
    /// The file in the city directory.
    pub file: &'static str,
    /// The workbook sheet (or database table) within the file.
    pub part: Option<&'static str>,
    /// The catalog entry's name and summary.
    pub resource: &'static str,
    pub summary: &'static str,
    pub format: ResourceFormat,
    pub share: ShareType,
    pub open: OpenType,
    pub cycle: UpdateCycle,
    pub columns: &'static [Column],
}

impl Dataset {
    /// The column names, in order: a file's header.
    pub fn header(&self) -> Vec<&'static str> {
        self.columns.iter().map(|c| c.name).collect()
    }

    /// Whether the catalog entry is fed by ingesting the file (the front-end database is pulled
    /// by a source instead).
    pub fn ingested(&self) -> bool {
        !self.file.ends_with(".sqlite")
    }
}

/// 公安 household register (`gongan_huji.csv`).
pub mod huji {
    use super::*;
    pub const FILE: &str = "gongan_huji.csv";
    pub const ID: &str = "公民身份号码";
    pub const NAME: &str = "姓名";
    pub const SEX: &str = "性别";
    pub const ETHNICITY: &str = "民族";
    pub const BIRTH: &str = "出生日期";
    pub const MARITAL: &str = "婚姻状况";
    pub const ADDRESS: &str = "住址";
    pub const DIVISION: &str = "行政区划代码";
    pub const STATUS: &str = "户籍状态";
    pub const CANCEL_REASON: &str = "注销原因";
    pub const CANCEL_DATE: &str = "注销日期";
    pub const DATASET: Dataset = Dataset {
        department: "CD-GA",
        file: FILE,
        part: None,
        resource: "户籍人口基本信息",
        summary: "公安局户籍登记的人口基本信息（gongan_huji.csv）",
        format: ResourceFormat::Database,
        share: ShareType::Conditional,
        open: OpenType::Never,
        cycle: UpdateCycle::Daily,
        columns: &[
            col(ID, "C", Some(18)),
            col(NAME, "C", Some(50)),
            col(SEX, "C", Some(1)),
            col(ETHNICITY, "C", Some(2)),
            col(BIRTH, "D", None),
            col(MARITAL, "C", Some(2)),
            col(ADDRESS, "C", Some(200)),
            col(DIVISION, "C", Some(6)),
            col(STATUS, "C", Some(4)),
            col(CANCEL_REASON, "C", Some(20)),
            col(CANCEL_DATE, "D", None),
        ],
    };
}

/// 民政 marriage registrations (`minzheng_hunyin.xlsx`, sheet 婚姻登记).
pub mod hunyin {
    use super::*;
    pub const FILE: &str = "minzheng_hunyin.xlsx";
    pub const SHEET: &str = "婚姻登记";
    pub const KIND: &str = "登记类型";
    pub const HUSBAND_ID: &str = "男方身份号码";
    pub const HUSBAND_NAME: &str = "男方姓名";
    pub const WIFE_ID: &str = "女方身份号码";
    pub const WIFE_NAME: &str = "女方姓名";
    pub const DATE: &str = "登记日期";
    pub const OFFICE: &str = "登记机关";
    pub const DATASET: Dataset = Dataset {
        department: "CD-MZ",
        file: FILE,
        part: Some(SHEET),
        resource: "婚姻登记信息",
        summary: "民政局婚姻登记（结婚、离婚）记录（minzheng_hunyin.xlsx 婚姻登记）",
        format: ResourceFormat::File,
        share: ShareType::Conditional,
        open: OpenType::Unconditional,
        cycle: UpdateCycle::Daily,
        columns: &[
            col(KIND, "C", Some(4)),
            col(HUSBAND_ID, "C", Some(18)),
            col(HUSBAND_NAME, "C", Some(50)),
            col(WIFE_ID, "C", Some(18)),
            col(WIFE_NAME, "C", Some(50)),
            col(DATE, "D", None),
            col(OFFICE, "C", Some(100)),
        ],
    };
}

/// 民政 death registrations (`minzheng_hunyin.xlsx`, sheet 死亡登记).
pub mod siwang {
    use super::*;
    pub const SHEET: &str = "死亡登记";
    pub const ID: &str = "身份号码";
    pub const NAME: &str = "姓名";
    pub const DATE: &str = "死亡日期";
    pub const OFFICE: &str = "登记机关";
    pub const DATASET: Dataset = Dataset {
        department: "CD-MZ",
        file: super::hunyin::FILE,
        part: Some(SHEET),
        resource: "死亡登记信息",
        summary: "民政局死亡登记记录（minzheng_hunyin.xlsx 死亡登记）",
        format: ResourceFormat::File,
        share: ShareType::Conditional,
        open: OpenType::Never,
        cycle: UpdateCycle::Daily,
        columns: &[
            col(ID, "C", Some(18)),
            col(NAME, "C", Some(50)),
            col(DATE, "D", None),
            col(OFFICE, "C", Some(100)),
        ],
    };
}

/// 民政's front-end database of 低保 recipients (`minzheng_qianzhiku.sqlite`, table dibao).
pub mod dibao {
    use super::*;
    pub const FILE: &str = "minzheng_qianzhiku.sqlite";
    pub const TABLE: &str = "dibao";
    pub const ID: &str = "citizen_id";
    pub const NAME: &str = "name";
    pub const HOUSEHOLD: &str = "household_size";
    pub const AMOUNT: &str = "monthly_amount";
    pub const START: &str = "start_month";
    pub const STATUS: &str = "status";
    pub const UPDATED: &str = "updated_at";
    pub const DATASET: Dataset = Dataset {
        department: "CD-MZ",
        file: FILE,
        part: Some(TABLE),
        resource: "最低生活保障对象信息",
        summary: "民政局前置库低保对象表（minzheng_qianzhiku.sqlite dibao）",
        format: ResourceFormat::Database,
        share: ShareType::Conditional,
        open: OpenType::Unconditional,
        cycle: UpdateCycle::Realtime,
        columns: &[
            col(ID, "C", Some(18)),
            col(NAME, "C", Some(50)),
            col(HOUSEHOLD, "I", None),
            col(AMOUNT, "Y", None),
            col(START, "C", Some(7)),
            col(STATUS, "C", Some(10)),
            col(UPDATED, "T", None),
        ],
    };
}

/// 人社 pension insurance (`renshe_canbao.csv`).
pub mod canbao {
    use super::*;
    pub const FILE: &str = "renshe_canbao.csv";
    pub const ID: &str = "身份证号";
    pub const NAME: &str = "姓名";
    pub const EMPLOYER_CODE: &str = "单位统一社会信用代码";
    pub const EMPLOYER: &str = "单位名称";
    pub const SCHEME: &str = "险种";
    pub const SINCE: &str = "参保日期";
    pub const STATUS: &str = "缴费状态";
    pub const UPDATED: &str = "更新时间";
    pub const DATASET: Dataset = Dataset {
        department: "CD-RS",
        file: FILE,
        part: None,
        resource: "社会保险参保信息",
        summary: "人社局城镇职工基本养老保险参保记录（renshe_canbao.csv）",
        format: ResourceFormat::Database,
        share: ShareType::Conditional,
        open: OpenType::Never,
        cycle: UpdateCycle::Monthly,
        columns: &[
            col(ID, "C", Some(18)),
            col(NAME, "C", Some(50)),
            col(EMPLOYER_CODE, "C", Some(18)),
            col(EMPLOYER, "C", Some(200)),
            col(SCHEME, "C", Some(50)),
            col(SINCE, "D", None),
            col(STATUS, "C", Some(20)),
            col(UPDATED, "D", None),
        ],
    };
}

/// 卫健 birth certificates and vaccinations (`weijian_shengyu_yimiao.ndjson`): one stream of
/// events whose `type` says which.
pub mod weijian {
    use super::*;
    pub const FILE: &str = "weijian_shengyu_yimiao.ndjson";
    pub const TYPE: &str = "type";
    pub const BIRTH_EVENT: &str = "birth";
    pub const VACCINATION_EVENT: &str = "vaccination";
    pub const CHILD_ID: &str = "child_id";
    pub const CHILD_NAME: &str = "child_name";
    pub const CHILD_SEX: &str = "sex";
    pub const BIRTH_DATE: &str = "birth_date";
    pub const MOTHER_ID: &str = "mother_id";
    pub const MOTHER_NAME: &str = "mother_name";
    pub const HOSPITAL: &str = "hospital";
    pub const PERSON_ID: &str = "person_id";
    pub const PERSON_NAME: &str = "person_name";
    pub const VACCINE: &str = "vaccine";
    pub const DATE: &str = "date";
    pub const DOSE: &str = "dose";
    /// The keys of a birth event, in the order the generator writes them.
    pub const BIRTH_KEYS: &[&str] = &[
        CHILD_ID,
        CHILD_NAME,
        CHILD_SEX,
        BIRTH_DATE,
        MOTHER_ID,
        MOTHER_NAME,
        HOSPITAL,
    ];
    /// The keys of a vaccination event.
    pub const VACCINATION_KEYS: &[&str] = &[PERSON_ID, PERSON_NAME, VACCINE, DATE, DOSE];
    pub const DATASET: Dataset = Dataset {
        department: "CD-WJ",
        file: FILE,
        part: None,
        resource: "出生与预防接种信息",
        summary: "卫健委出生医学证明与预防接种事件（weijian_shengyu_yimiao.ndjson）",
        format: ResourceFormat::Stream,
        share: ShareType::Conditional,
        open: OpenType::Never,
        cycle: UpdateCycle::Realtime,
        columns: &[
            col(TYPE, "C", Some(20)),
            col(CHILD_ID, "C", Some(18)),
            col(CHILD_NAME, "C", Some(50)),
            col(BIRTH_DATE, "D", None),
            col(MOTHER_ID, "C", Some(18)),
            col(PERSON_ID, "C", Some(18)),
            col(VACCINE, "C", Some(50)),
            col(DATE, "D", None),
        ],
    };
}

/// 市场监管 company register (`shichang_qiye.xlsx`, sheet 企业登记).
pub mod qiye {
    use super::*;
    pub const FILE: &str = "shichang_qiye.xlsx";
    pub const SHEET: &str = "企业登记";
    pub const CODE: &str = "统一社会信用代码";
    pub const NAME: &str = "企业名称";
    pub const LEGAL_REP: &str = "法定代表人";
    pub const LEGAL_REP_ID: &str = "法定代表人身份证号";
    pub const CAPITAL: &str = "注册资本(万元)";
    pub const FOUNDED: &str = "成立日期";
    pub const SEAT: &str = "住所";
    pub const STATUS: &str = "登记状态";
    pub const DIVISION: &str = "行政区划";
    pub const DATASET: Dataset = Dataset {
        department: "CD-SJ",
        file: FILE,
        part: None,
        resource: "市场主体登记信息",
        summary: "市场监管局企业登记信息（shichang_qiye.xlsx）",
        format: ResourceFormat::File,
        share: ShareType::Unconditional,
        open: OpenType::Unconditional,
        cycle: UpdateCycle::Daily,
        columns: &[
            col(CODE, "C", Some(18)),
            col(NAME, "C", Some(200)),
            col(LEGAL_REP, "C", Some(50)),
            col(LEGAL_REP_ID, "C", Some(18)),
            col(CAPITAL, "Y", None),
            col(FOUNDED, "D", None),
            col(SEAT, "C", Some(200)),
            col(STATUS, "C", Some(10)),
            col(DIVISION, "C", Some(6)),
        ],
    };
}

/// 住建 houses and owners (`zhujian_fangwu.csv`).
pub mod fangwu {
    use super::*;
    pub const FILE: &str = "zhujian_fangwu.csv";
    pub const CODE: &str = "房屋编码";
    pub const LOCATION: &str = "坐落";
    pub const AREA: &str = "建筑面积";
    pub const OWNER_ID: &str = "产权人身份证号";
    pub const OWNER_NAME: &str = "产权人姓名";
    pub const REGISTERED: &str = "登记日期";
    pub const DATASET: Dataset = Dataset {
        department: "CD-ZJ",
        file: FILE,
        part: None,
        resource: "房屋产权登记信息",
        summary: "住建局房屋及产权人登记（zhujian_fangwu.csv）",
        format: ResourceFormat::Database,
        share: ShareType::Conditional,
        open: OpenType::Never,
        cycle: UpdateCycle::Weekly,
        columns: &[
            col(CODE, "C", Some(18)),
            col(LOCATION, "C", Some(200)),
            col(AREA, "F", None),
            col(OWNER_ID, "C", Some(18)),
            col(OWNER_NAME, "C", Some(50)),
            col(REGISTERED, "D", None),
        ],
    };
}

/// 公积金 contributions (`gongjijin_jiaocun.parquet`).
pub mod gongjijin {
    use super::*;
    pub const FILE: &str = "gongjijin_jiaocun.parquet";
    pub const ID: &str = "身份证号";
    pub const NAME: &str = "姓名";
    pub const EMPLOYER: &str = "单位名称";
    pub const BASE: &str = "缴存基数";
    pub const MONTHLY: &str = "月缴存额";
    pub const OPENED: &str = "开户日期";
    pub const STATUS: &str = "账户状态";
    pub const DATASET: Dataset = Dataset {
        department: "CD-GJJ",
        file: FILE,
        part: None,
        resource: "住房公积金缴存信息",
        summary: "公积金中心个人账户缴存记录（gongjijin_jiaocun.parquet）",
        format: ResourceFormat::Database,
        share: ShareType::Conditional,
        open: OpenType::Conditional,
        cycle: UpdateCycle::Monthly,
        columns: &[
            col(ID, "C", Some(18)),
            col(NAME, "C", Some(50)),
            col(EMPLOYER, "C", Some(200)),
            col(BASE, "Y", None),
            col(MONTHLY, "Y", None),
            col(OPENED, "D", None),
            col(STATUS, "C", Some(10)),
        ],
    };
}

/// Every catalogued dataset, in catalog order.
pub const DATASETS: &[Dataset] = &[
    huji::DATASET,
    hunyin::DATASET,
    siwang::DATASET,
    dibao::DATASET,
    canbao::DATASET,
    weijian::DATASET,
    qiye::DATASET,
    fangwu::DATASET,
    gongjijin::DATASET,
];
