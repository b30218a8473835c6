//! The national picture (各產業、各縣市歷年碳排分析) and industry benchmarks: firm-year
//! totals grouped by industry and county, published only where the privacy rules allow.

pub mod privacy;
