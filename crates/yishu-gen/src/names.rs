//! Word lists for coherent Chinese names, addresses and enterprise names, and the variants that
//! departments' systems produce (homophones, traditional characters, stray and full-width spaces).

/// Common surnames (百家姓, by frequency).
pub const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "林", "罗", "高", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "彭", "曾",
    "肖", "田", "董", "袁", "潘", "于", "蒋", "蔡", "余", "杜", "叶", "程", "苏", "魏", "吕", "丁",
    "任", "沈", "姚", "卢", "姜", "崔", "钟", "谭", "陆", "汪", "范", "金", "石", "廖", "贾", "夏",
    "韦", "付", "方", "白", "邹", "孟", "熊", "秦", "邱", "江", "尹", "薛", "闫", "段", "雷", "侯",
    "龙", "史", "陶", "黎", "贺", "顾", "毛", "郝", "龚", "邵", "万", "钱", "严", "覃", "武", "戴",
    "莫", "孔", "向", "欧阳",
];

/// Given-name characters (male-leaning first, then female-leaning, then neutral).
pub const GIVEN_MALE: &[&str] = &[
    "伟", "强", "磊", "军", "勇", "杰", "涛", "斌", "超", "明", "刚", "平", "辉", "鹏", "华", "飞",
    "鑫", "波", "宇", "浩", "凯", "健", "俊", "帆", "帅", "旭", "宁", "龙", "林", "阳", "东", "文",
    "博", "峰", "建", "国", "成", "志", "海", "兵",
];
pub const GIVEN_FEMALE: &[&str] = &[
    "芳", "娜", "敏", "静", "丽", "艳", "娟", "霞", "秀", "燕", "玲", "桂", "丹", "萍", "红", "英",
    "梅", "琳", "雪", "慧", "婷", "倩", "颖", "晶", "洁", "佳", "欣", "悦", "琴", "云", "莉", "兰",
    "凤", "月", "璐", "瑶", "怡", "思", "雨", "涵",
];

/// Rare characters outside GBK (CJK Extension A/B) that real registers hold; they need GB18030.
pub const RARE: &[&str] = &["䶮", "㛃", "㑇", "䓖", "𠇔", "㵘", "䴘", "𡒄"];

/// Homophones a clerk might type instead (same pinyin).
pub const HOMOPHONES: &[(&str, &str)] = &[
    ("伟", "玮"),
    ("丽", "莉"),
    ("静", "婧"),
    ("军", "君"),
    ("杰", "洁"),
    ("明", "铭"),
    ("华", "桦"),
    ("涛", "韬"),
    ("芳", "方"),
    ("娜", "纳"),
    ("敏", "闽"),
    ("燕", "艳"),
    ("玲", "苓"),
    ("海", "亥"),
    ("林", "琳"),
    ("宇", "雨"),
    ("鹏", "朋"),
    ("飞", "菲"),
    ("斌", "彬"),
    ("慧", "惠"),
    ("婷", "庭"),
    ("云", "芸"),
    ("东", "冬"),
    ("峰", "锋"),
];

/// Simplified → traditional, as some older systems store names.
pub const TRADITIONAL: &[(&str, &str)] = &[
    ("国", "國"),
    ("华", "華"),
    ("丽", "麗"),
    ("伟", "偉"),
    ("军", "軍"),
    ("红", "紅"),
    ("东", "東"),
    ("刚", "剛"),
    ("龙", "龍"),
    ("凤", "鳳"),
    ("云", "雲"),
    ("张", "張"),
    ("刘", "劉"),
    ("陈", "陳"),
    ("杨", "楊"),
    ("黄", "黃"),
    ("赵", "趙"),
    ("吴", "吳"),
    ("孙", "孫"),
    ("马", "馬"),
    ("郑", "鄭"),
    ("谢", "謝"),
    ("许", "許"),
    ("韩", "韓"),
    ("冯", "馮"),
    ("邓", "鄧"),
    ("叶", "葉"),
    ("苏", "蘇"),
    ("卢", "盧"),
    ("钟", "鍾"),
    ("涛", "濤"),
    ("鹏", "鵬"),
    ("飞", "飛"),
    ("静", "靜"),
    ("娟", "娟"),
    ("霞", "霞"),
    ("艳", "艷"),
    ("玲", "玲"),
    ("兰", "蘭"),
    ("凯", "凱"),
];

/// Road names for addresses.
pub const ROADS: &[&str] = &[
    "人民南路",
    "人民北路",
    "蜀都大道",
    "天府大道",
    "红星路",
    "春熙路",
    "建设路",
    "一环路",
    "二环路",
    "府青路",
    "光华大道",
    "羊西线",
    "交子大道",
    "锦绣路",
    "科华北路",
    "玉林路",
    "抚琴路",
    "金沙路",
    "青龙街",
    "顺城大街",
    "东大街",
    "西大街",
    "盐市口街",
    "总府路",
    "驷马桥路",
    "沙湾路",
    "营门口路",
    "双庆路",
    "府河路",
    "龙泉街",
];

/// Shop names (字号) and industries for enterprise names.
pub const TRADE_NAMES: &[&str] = &[
    "天府", "锦城", "蓉城", "华西", "蜀汉", "金沙", "芙蓉", "锦江", "青城", "峨眉", "川西", "熊猫",
    "都江", "龙泉", "宽窄", "太古", "交子", "银杏", "岷山", "浣花", "望江", "浩瀚", "瑞丰", "鼎盛",
    "宏达", "新锐", "恒信", "博远", "众诚", "云帆",
];
pub const INDUSTRIES: &[&str] = &[
    "科技",
    "贸易",
    "餐饮管理",
    "建筑工程",
    "物流",
    "文化传媒",
    "信息技术",
    "商贸",
    "医药",
    "教育咨询",
    "物业管理",
    "农业开发",
];

/// Hospitals for birth records.
pub const HOSPITALS: &[&str] = &[
    "四川大学华西第二医院",
    "成都市妇女儿童中心医院",
    "四川省人民医院",
    "成都市第一人民医院",
    "成都市第三人民医院",
];

/// Vaccines of the national immunisation programme.
pub const VACCINES: &[&str] = &[
    "乙肝疫苗",
    "卡介苗",
    "脊灰疫苗",
    "百白破疫苗",
    "麻腮风疫苗",
    "乙脑疫苗",
    "甲肝疫苗",
    "流脑疫苗",
];

/// GB 3304 ethnicity codes with weights for Sichuan (汉, 彝, 藏, 羌, 回, 土家, 苗, 满).
pub const ETHNICITIES: &[(&str, &str, u32)] = &[
    ("01", "汉族", 9500),
    ("07", "彝族", 200),
    ("04", "藏族", 150),
    ("33", "羌族", 60),
    ("03", "回族", 40),
    ("15", "土家族", 20),
    ("06", "苗族", 15),
    ("11", "满族", 15),
];

/// Replaces the first char found in `pairs` (left → right) and returns the variant, if any.
pub fn substitute(name: &str, pairs: &[(&str, &str)]) -> Option<String> {
    for (from, to) in pairs {
        if name.contains(from) && from != to {
            return Some(name.replacen(from, to, 1));
        }
    }
    None
}

/// Full-width form of ASCII digits and letters.
pub fn to_full_width(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '!'..='~' => char::from_u32(c as u32 + 0xFEE0).unwrap_or(c),
            ' ' => '\u{3000}',
            _ => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    /// The city's ethnicities are the national table's codes and names (GB 3304).
    #[test]
    fn ethnicities_follow_gb_3304() {
        let t = yishu_types::codes::table("ethnicity").unwrap();
        for (code, name, _) in super::ETHNICITIES {
            assert_eq!(t.lookup(code).map(|e| e.name.as_str()), Some(*name));
        }
    }
}
