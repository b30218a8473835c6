//! Scope / ISO 14064-1:2018 category / GHG Protocol classification.
//!
//! Follows the seed's 油電水氣材 table, corrected as in `emission-factors.md`: purchased steam is
//! imported energy (scope 2 / category 2), a catch-all "other" is category 6 (category 5 is the
//! use of the organisation's products), waste is ISO category 4 but GHG Protocol scope 3
//! category 5, and 材 is labelled as direct fugitive/process emissions.

use serde::Serialize;

use crate::domain::ActivityKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Classification {
    /// GHG Protocol scope 1..3.
    pub scope: u8,
    /// ISO 14064-1:2018 category 1..6.
    pub category: u8,
    pub ghg_protocol: &'static str,
    /// zh-TW.
    pub label_zh: &'static str,
}

pub fn classify(kind: ActivityKind) -> Classification {
    match kind {
        ActivityKind::Electricity => Classification {
            scope: 2,
            category: 2,
            ghg_protocol: "Scope 2 (purchased electricity)",
            label_zh: "外購電力（能源間接排放）",
        },
        ActivityKind::Water => Classification {
            scope: 3,
            category: 4,
            ghg_protocol: "Scope 3 Category 1 (purchased goods and services)",
            label_zh: "自來水（組織使用產品之間接排放）",
        },
        ActivityKind::Gasoline | ActivityKind::Diesel => Classification {
            scope: 1,
            category: 1,
            ghg_protocol: "Scope 1 (fuel combustion)",
            label_zh: "燃料燃燒（直接排放）",
        },
        ActivityKind::NaturalGas | ActivityKind::Lpg => Classification {
            scope: 1,
            category: 1,
            ghg_protocol: "Scope 1 (stationary combustion)",
            label_zh: "固定燃燒（直接排放）",
        },
        ActivityKind::Refrigerant => Classification {
            scope: 1,
            category: 1,
            ghg_protocol: "Scope 1 (fugitive emissions)",
            label_zh: "冷媒逸散（直接排放）",
        },
        ActivityKind::Septic => Classification {
            scope: 1,
            category: 1,
            ghg_protocol: "Scope 1 (fugitive emissions)",
            label_zh: "化糞池逸散（直接排放）",
        },
    }
}

/// One row of the disclosure crosswalk (seed item → ISO category → GHG Protocol).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CrosswalkRow {
    /// The seed's item name (zh-TW).
    pub item_zh: &'static str,
    /// What it covers (zh-TW).
    pub description_zh: &'static str,
    /// 1 = seed phase 1 (required), 2 = phase 2.
    pub phase: u8,
    pub scope: u8,
    pub iso_category: u8,
    pub ghg_protocol: &'static str,
    /// Activity kinds computed by the platform for this row (empty: not computed yet).
    pub kinds: &'static [ActivityKind],
    /// Why the row differs from the seed table, if it does (zh-TW).
    pub note_zh: &'static str,
}

pub const CROSSWALK: &[CrosswalkRow] = &[
    CrosswalkRow {
        item_zh: "油",
        description_zh: "汽油、柴油（公務車、發電機等燃料燃燒）",
        phase: 1,
        scope: 1,
        iso_category: 1,
        ghg_protocol: "Scope 1",
        kinds: &[ActivityKind::Gasoline, ActivityKind::Diesel],
        note_zh: "",
    },
    CrosswalkRow {
        item_zh: "電",
        description_zh: "外購電力（台電電費單）",
        phase: 1,
        scope: 2,
        iso_category: 2,
        ghg_protocol: "Scope 2",
        kinds: &[ActivityKind::Electricity],
        note_zh: "",
    },
    CrosswalkRow {
        item_zh: "水",
        description_zh: "自來水（台水水費單）",
        phase: 1,
        scope: 3,
        iso_category: 4,
        ghg_protocol: "Scope 3 Category 1 (purchased goods and services)",
        kinds: &[ActivityKind::Water],
        note_zh: "GHG Protocol 歸為範疇三類別1（購買的商品與服務）。",
    },
    CrosswalkRow {
        item_zh: "氣",
        description_zh: "天然氣、桶裝瓦斯（液化石油氣）燃燒",
        phase: 1,
        scope: 1,
        iso_category: 1,
        ghg_protocol: "Scope 1",
        kinds: &[ActivityKind::NaturalGas, ActivityKind::Lpg],
        note_zh: "",
    },
    CrosswalkRow {
        item_zh: "外購蒸汽",
        description_zh: "向外部購買的蒸汽",
        phase: 1,
        scope: 2,
        iso_category: 2,
        ghg_protocol: "Scope 2",
        kinds: &[],
        note_zh: "原表列於「氣」之範疇一類別一；外購蒸汽屬輸入能源，更正為範疇二、類別2。",
    },
    CrosswalkRow {
        item_zh: "材",
        description_zh: "冷媒填充、化糞池（水肥）、製程、燃煤等直接逸散或製程排放",
        phase: 1,
        scope: 1,
        iso_category: 1,
        ghg_protocol: "Scope 1 (fugitive and process emissions)",
        kinds: &[ActivityKind::Refrigerant, ActivityKind::Septic],
        note_zh: "「材」指組織自身的直接逸散／製程排放，並非採購原物料（採購屬類別4）。",
    },
    CrosswalkRow {
        item_zh: "運輸",
        description_zh: "委外貨運、員工通勤、商務差旅等運輸之間接排放",
        phase: 2,
        scope: 3,
        iso_category: 3,
        ghg_protocol:
            "Scope 3 Category 4 (upstream transportation) or 9 (downstream transportation)",
        kinds: &[],
        note_zh: "上游運輸對應 GHG Protocol 類別4，下游運輸對應類別9。",
    },
    CrosswalkRow {
        item_zh: "採購",
        description_zh: "組織購買之產品與服務的間接排放",
        phase: 2,
        scope: 3,
        iso_category: 4,
        ghg_protocol: "Scope 3 Category 1 (purchased goods and services)",
        kinds: &[],
        note_zh: "",
    },
    CrosswalkRow {
        item_zh: "廢棄",
        description_zh: "委外廢棄物處理",
        phase: 2,
        scope: 3,
        iso_category: 4,
        ghg_protocol: "Scope 3 Category 5 (waste generated in operations)",
        kinds: &[],
        note_zh: "ISO 14064-1 為類別4，GHG Protocol 為範疇三類別5。",
    },
    CrosswalkRow {
        item_zh: "其他",
        description_zh: "無法歸入上述類別的其他間接排放",
        phase: 2,
        scope: 3,
        iso_category: 6,
        ghg_protocol: "Scope 3 (category according to the item)",
        kinds: &[],
        note_zh: "原表列為類別5；類別5為使用組織產品之排放，其他來源更正為類別6。",
    },
];

/// zh-TW names of the ISO 14064-1:2018 categories.
pub fn category_label(category: u8) -> &'static str {
    match category {
        1 => "類別1：直接溫室氣體排放與移除",
        2 => "類別2：輸入能源之間接溫室氣體排放",
        3 => "類別3：運輸之間接溫室氣體排放",
        4 => "類別4：組織使用產品之間接溫室氣體排放",
        5 => "類別5：與使用組織產品有關之間接溫室氣體排放",
        6 => "類別6：其他來源之間接溫室氣體排放",
        _ => "未知類別",
    }
}

/// zh-TW names of the GHG Protocol scopes.
pub fn scope_label(scope: u8) -> &'static str {
    match scope {
        1 => "範疇一：直接排放",
        2 => "範疇二：能源間接排放",
        3 => "範疇三：其他間接排放",
        _ => "未知範疇",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_follow_the_corrected_seed_table() {
        let sc = |k| {
            let c = classify(k);
            (c.scope, c.category)
        };
        assert_eq!(sc(ActivityKind::Electricity), (2, 2));
        assert_eq!(sc(ActivityKind::Water), (3, 4));
        assert!(classify(ActivityKind::Water)
            .ghg_protocol
            .contains("Category 1"));
        for k in [
            ActivityKind::Gasoline,
            ActivityKind::Diesel,
            ActivityKind::NaturalGas,
            ActivityKind::Lpg,
            ActivityKind::Refrigerant,
            ActivityKind::Septic,
        ] {
            assert_eq!(sc(k), (1, 1), "{k:?}");
        }
    }

    #[test]
    fn crosswalk_covers_every_kind_once_and_the_phase_two_items() {
        for k in ActivityKind::ALL {
            let rows: Vec<_> = CROSSWALK.iter().filter(|r| r.kinds.contains(&k)).collect();
            assert_eq!(rows.len(), 1, "{k:?}");
            let c = classify(k);
            assert_eq!(
                (rows[0].scope, rows[0].iso_category),
                (c.scope, c.category),
                "{k:?}"
            );
        }
        let row = |name: &str| CROSSWALK.iter().find(|r| r.item_zh == name).copied();
        let steam = row("外購蒸汽").unwrap();
        assert_eq!((steam.scope, steam.iso_category), (2, 2));
        let transport = row("運輸").unwrap();
        assert_eq!(transport.iso_category, 3);
        assert!(transport.ghg_protocol.contains('4') && transport.ghg_protocol.contains('9'));
        let purchase = row("採購").unwrap();
        assert_eq!(purchase.iso_category, 4);
        assert!(purchase.ghg_protocol.contains("Category 1"));
        let waste = row("廢棄").unwrap();
        assert_eq!(waste.iso_category, 4);
        assert!(waste.ghg_protocol.contains("Category 5"));
        assert_eq!(row("其他").unwrap().iso_category, 6);
        assert!(CROSSWALK
            .iter()
            .all(|r| (1..=6).contains(&r.iso_category) && (1..=3).contains(&r.scope)));
    }

    #[test]
    fn labels() {
        assert!(category_label(2).contains("輸入能源"));
        assert!(category_label(6).contains("其他"));
        assert_eq!(category_label(0), "未知類別");
        assert!(scope_label(1).contains("範疇一"));
        assert_eq!(scope_label(9), "未知範疇");
    }
}
