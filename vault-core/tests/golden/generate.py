#!/usr/bin/env python3
"""Generates the golden key data of vault-core with Python's own uuid5, json and str().

This is an independent re-statement of what the original Python services did: parse the JSON
with `json.loads`, render numbers with `str()`, join with `#$#`, and `uuid.uuid5` under the
course namespace. Run it from anywhere; it rewrites the files beside it:

    python3 vault-core/tests/golden/generate.py

Outputs (committed, read by vault-core/tests/golden.rs):
  keys.json        hub/link/satellite keys of part lists, plain and unambiguous joining
  numbers.jsonl    [JSON number token, str() of its parsed value, is it an int] per line
  orders.jsonl     enriched orders (docs/contract.md §4) covering ints, decimals, exponents, Cyrillic
  order_rows.json  every Data Vault row (docs/contract.md §5) of each order, all values as str()
"""
import json
import pathlib
import random
import struct
import uuid

NS = uuid.UUID("7f288a2e-0ad0-4039-8e59-6c9838d87307")
HERE = pathlib.Path(__file__).resolve().parent


def key(*parts):
    return str(uuid.uuid5(NS, "#$#".join(parts)))


def key_escaped(*parts):
    esc = [p.replace("\\", "\\\\").replace("#", "\\#") for p in parts]
    return str(uuid.uuid5(NS, "#$#".join(esc)))


def key_cases():
    part_lists = [
        ["1371198"],
        ["626a81ce9a8cd1920641e29c"],
        ["Закуски"],
        ["Основные блюда"],
        ["Рис с лимоном"],
        ["Кофейня №1"],
        [""],
        ["🍕 pizza"],
        ["1371198", "aeca4d08abab78869c20128c"],
        ["aeca4d08abab78869c20128c", "ef8c42c19b7518a9aebec106"],
        ["aeca4d08abab78869c20128c", "Десерты"],
        ["626a81ce9a8cd1920641e29c", "Гаврила Архипович Игнатьев", "gavaii_2222"],
        ["1371198", "875", "875"],
        ["1371198", "875.0", "1e+16"],
        ["1371198", "CLOSED"],
        ["a#$#b", "c"],
        ["a", "b#$#c"],
        ["back\\slash", "#hash#"],
        ["", ""],
    ]
    return [
        {"parts": parts, "plain": key(*parts), "unambiguous": key_escaped(*parts)}
        for parts in part_lists
    ]


def number_cases():
    tokens = [
        "0", "875", "-0", "12", "12345678901234567890123", "875.0", "0.1", "1e16", "1E16",
        "0.00001", "0.0001", "1e15", "1E5", "1e+5", "123.456", "2.675", "0.30000000000000004",
        "9999999999999998.0", "1.5e300", "1e-7", "1.5e-7", "875.50", "100.10", "5e-324",
        "1.7976931348623157e308", "123456789.123456789", "0.0", "-0.0", "-2.5", "1e22", "1e21",
    ]
    rng = random.Random(20261124)
    for _ in range(3000):
        # Random doubles over the whole exponent range, written with 17 significant digits
        # (not necessarily the shortest form), plus random "money-like" decimals.
        bits = rng.getrandbits(64)
        x = struct.unpack("<d", struct.pack("<Q", bits))[0]
        if x != x or x in (float("inf"), float("-inf")):
            continue
        tokens.append(format(x, ".17g") if "e" in format(x, ".17g") or "." in format(x, ".17g")
                      else format(x, ".17g") + ".0")
        tokens.append("%d.%02d" % (rng.randrange(0, 100000), rng.randrange(0, 100)))
        tokens.append("%de%d" % (rng.randrange(1, 1000), rng.randrange(-30, 30)))
    out = []
    for t in tokens:
        v = json.loads(t)
        out.append([t, str(v), isinstance(v, int)])
    return out


def orders():
    base = {
        "object_id": 322519, "object_type": "order",
        "payload": {
            "id": 322519, "date": "2022-11-19 16:06:36", "update_ts": "2022-11-19 16:06:36",
            "cost": 300, "payment": 300, "status": "CLOSED",
            "restaurant": {"id": "626a81cfefa404208fe9abae", "name": "Кофейня №1"},
            "user": {"id": "626a81ce9a8cd1920641e296", "name": "Котова Ольга Вениаминовна",
                     "login": "konstantin58"},
            "products": [{"id": "6276e8cd0cf48b4cded00878", "price": 180, "quantity": 1,
                          "name": "РОЛЛ С ТОФУ И ВЯЛЕНЫМИ ТОМАТАМИ", "category": "Выпечка"}],
        },
    }
    texts = [json.dumps(base, ensure_ascii=False)]
    # Hand-written JSON so the number tokens are exactly as a producer could write them.
    texts.append(
        '{"object_id": 1371198, "object_type": "order", "payload": {"id": 1371198, '
        '"date": "2023-04-01 20:45:43", "update_ts": "2023-04-01 20:45:43", '
        '"cost": 875.0, "payment": 1e16, "status": "CANCELLED", '
        '"restaurant": {"id": "ef8c42c19b7518a9aebec106", "name": "Кубдари"}, '
        '"user": {"id": "626a81ce9a8cd1920641e29c", "name": "Гаврила Архипович Игнатьев"}, '
        '"products": [{"id": "aeca4d08abab78869c20128c", "price": 175, "quantity": 5, '
        '"name": "Рис с лимоном", "category": "Гарниры"}, '
        '{"id": "3de9aa5b1b6d4b1a8d31c2f0", "price": 200.5, "quantity": 1, '
        '"name": "Пхали с фасолью", "category": "Закуски"}, '
        '{"id": "aeca4d08abab78869c20128c", "price": 175, "quantity": 1, '
        '"name": "Рис с лимоном", "category": "Гарниры"}]}}'
    )
    texts.append(
        '{"object_id": 7, "object_type": "order", "payload": {"id": 7, '
        '"date": "2024-01-02 03:04:05", "cost": 0.00001, "payment": 0.0001, "status": "OPEN", '
        '"restaurant": {"id": "r#$#1", "name": "Шашлычная \\"У Ашота\\""}, '
        '"user": {"id": "u1", "name": "Ян", "login": "yan"}, '
        '"products": [{"id": "p1", "price": 1E2, "quantity": 2, "name": "Чай", "category": "Чай"}, '
        '{"id": "p2", "price": 12345678901234567890, "quantity": 1, "name": "Морс", "category": "Напитки"}]}}'
    )
    # The dictionaries' own times (update_ts_utc), as stg-service adds them: the names' periods
    # start there; the order's update_ts stands in where a message does not carry them.
    texts.append(
        '{"object_id": 8, "object_type": "order", "payload": {"id": 8, '
        '"date": "2024-01-02 03:04:05", "update_ts": "2024-01-02 03:10:00", "cost": 10, "payment": 10, '
        '"status": "CLOSED", '
        '"restaurant": {"id": "r2", "name": "Чайхана", "update_ts_utc": "2023-12-31 23:00:00"}, '
        '"user": {"id": "u1", "name": "Ян", "login": "yan", "update_ts_utc": "2023-06-01 12:00:00"}, '
        '"products": [{"id": "p1", "price": 5, "quantity": 2, "name": "Чай", "category": "Чай"}]}}'
    )
    return texts


def order_rows(order):
    p = order["payload"]
    oid = str(p["id"])
    uid, rid = p["user"]["id"], p["restaurant"]["id"]
    login = p["user"].get("login", p["user"]["name"])
    update_ts = p.get("update_ts", p["date"])
    user_ts = p["user"].get("update_ts_utc", update_ts)
    rest_ts = p["restaurant"].get("update_ts_utc", update_ts)
    h_order, h_user, h_rest = key(oid), key(uid), key(rid)
    t = {name: {} for name in [
        "h_user", "h_product", "h_category", "h_restaurant", "h_order", "l_order_product",
        "l_product_restaurant", "l_product_category", "l_order_user", "s_user_names",
        "s_restaurant_names", "s_product_names", "s_order_cost", "s_order_status"]}

    def put(table, pk_col, pk, **cols):
        t[table][pk] = {pk_col: pk, **{k: str(v) for k, v in cols.items()}}

    put("h_user", "h_user_pk", h_user, user_id=uid)
    put("h_restaurant", "h_restaurant_pk", h_rest, restaurant_id=rid)
    put("h_order", "h_order_pk", h_order, order_id=p["id"], order_dt=p["date"])
    put("l_order_user", "hk_order_user_pk", key(oid, uid), h_order_pk=h_order, h_user_pk=h_user)
    put("s_user_names", "hk_user_names_pk", key(uid, p["user"]["name"], login),
        h_user_pk=h_user, username=p["user"]["name"], userlogin=login, update_ts_utc=user_ts)
    put("s_restaurant_names", "hk_restaurant_names_pk", key(rid, p["restaurant"]["name"]),
        h_restaurant_pk=h_rest, name=p["restaurant"]["name"], update_ts_utc=rest_ts)
    put("s_order_cost", "hk_order_cost_pk", key(oid, str(p["cost"]), str(p["payment"])),
        h_order_pk=h_order, cost=p["cost"], payment=p["payment"], update_ts=update_ts)
    put("s_order_status", "hk_order_status_pk", key(oid, p["status"]),
        h_order_pk=h_order, status=p["status"], update_ts=update_ts)
    for pr in p["products"]:
        pid, cat = pr["id"], pr["category"]
        h_prod, h_cat = key(pid), key(cat)
        put("h_product", "h_product_pk", h_prod, product_id=pid)
        put("h_category", "h_category_pk", h_cat, category_name=cat)
        put("l_order_product", "hk_order_product_pk", key(oid, pid),
            h_order_pk=h_order, h_product_pk=h_prod)
        put("l_product_restaurant", "hk_product_restaurant_pk", key(pid, rid),
            h_restaurant_pk=h_rest, h_product_pk=h_prod)
        put("l_product_category", "hk_product_category_pk", key(pid, cat),
            h_category_pk=h_cat, h_product_pk=h_prod)
        put("s_product_names", "hk_product_names_pk", key(pid, pr["name"]),
            h_product_pk=h_prod, name=pr["name"], update_ts_utc=rest_ts)
    return {table: sorted(rows.values(), key=lambda r: json.dumps(r)) for table, rows in t.items()}


def main():
    (HERE / "keys.json").write_text(json.dumps(key_cases(), ensure_ascii=False, indent=1) + "\n")
    (HERE / "numbers.jsonl").write_text("".join(json.dumps(c) + "\n" for c in number_cases()))
    texts = orders()
    (HERE / "orders.jsonl").write_text("".join(t + "\n" for t in texts))
    rows = [order_rows(json.loads(t)) for t in texts]
    (HERE / "order_rows.json").write_text(json.dumps(rows, ensure_ascii=False, indent=1) + "\n")


if __name__ == "__main__":
    main()
