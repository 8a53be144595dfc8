"""Canonical DataFrame schemas: the one place that says which columns a frame has, their dtypes and units.

Every market-data source (synthetic, Parquet snapshot, Dhan) returns frames that pass `core.frames.conform()`.
Conventions: money in rupees per unit of the underlying; quantities (OI, volume, bid/ask size) in units,
not lots; implied volatility as a decimal fraction (0.14 = 14 %); dates as datetime64 at midnight.
"""

from optionsv4_lib.core.frames import Column

OPTION_CHAIN: tuple[Column, ...] = (
    Column("symbol", "string", "", "underlying symbol as in the universe, e.g. NIFTY, DIXON"),
    Column("expiry", "datetime64[s]", "date", "expiry date (last trading day of the contract)"),
    Column("strike", "float64", "₹", "strike price"),
    Column("option_type", "string", "", "'CE' (call) or 'PE' (put)"),
    Column("bid", "float64", "₹/unit", "best bid; 0 when there is no bid"),
    Column("ask", "float64", "₹/unit", "best ask; 0 when there is no offer"),
    Column("ltp", "float64", "₹/unit", "last traded price"),
    Column("bid_qty", "int64", "units", "quantity at the best bid"),
    Column("ask_qty", "int64", "units", "quantity at the best ask"),
    Column("iv", "float64", "decimal", "implied volatility, 0.14 = 14 %; NaN when unknown"),
    Column("delta", "float64", "₹/₹", "option delta per unit"),
    Column("gamma", "float64", "1/₹", "option gamma per unit"),
    Column("theta", "float64", "₹/day", "theta per calendar day per unit"),
    Column("vega", "float64", "₹/vol pt", "vega per 1 volatility point (0.01) per unit"),
    Column("oi", "int64", "units", "open interest"),
    Column("volume", "int64", "units", "traded volume of the day"),
    Column("underlying_price", "float64", "₹", "spot (last price) of the underlying when the chain was taken"),
    Column("security_id", "Int64", "", "broker security id of the contract, when known", required=False),
    Column("lot_size", "Int64", "units", "market lot of this contract (lots belong to contracts: after a revision two "
           "lots coexist until the older contracts expire); missing: the lot table's for the symbol and expiry",
           required=False),
    Column("quoted_at", "datetime64[us, UTC]", "instant", "when the quotes were taken (time to expiry runs from "
           "here); missing: the F&O open of the trade date", required=False),
)

CANDLES: tuple[Column, ...] = (
    Column("symbol", "string", "", "instrument symbol, e.g. NIFTY, INDIA VIX, RELIANCE"),
    Column("date", "datetime64[s]", "date", "trading day"),
    Column("open", "float64", "₹", "open"),
    Column("high", "float64", "₹", "high"),
    Column("low", "float64", "₹", "low"),
    Column("close", "float64", "₹", "close"),
    Column("volume", "int64", "units", "traded volume (0 for indices)"),
)
