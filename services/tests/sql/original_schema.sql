-- The warehouse of the original Python services, as docs/contract.md §8.1 describes it: their
-- DDS DDL to the letter, the counter tables of their CDM service and the known shape of their
-- STG table. Created with CREATE TABLE IF NOT EXISTS at start-up, as they did.
CREATE SCHEMA IF NOT EXISTS stg;
CREATE SCHEMA IF NOT EXISTS dds;
CREATE SCHEMA IF NOT EXISTS cdm;

CREATE TABLE IF NOT EXISTS stg.order_events (
    id serial PRIMARY KEY,
    object_id int NOT NULL UNIQUE,
    object_type varchar NOT NULL,
    sent_dttm timestamp NOT NULL,
    payload json NOT NULL
);

CREATE TABLE IF NOT EXISTS dds.h_user (h_user_pk UUID NOT NULL PRIMARY KEY, user_id VARCHAR NOT NULL, load_dt timestamp NOT NULL, load_src VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS dds.h_product (h_product_pk UUID NOT NULL PRIMARY KEY, product_id VARCHAR NOT NULL, load_dt timestamp NOT NULL, load_src VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS dds.h_category (h_category_pk UUID NOT NULL PRIMARY KEY, category_name VARCHAR NOT NULL, load_dt timestamp NOT NULL, load_src VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS dds.h_restaurant (h_restaurant_pk UUID NOT NULL PRIMARY KEY, restaurant_id VARCHAR NOT NULL, load_dt timestamp NOT NULL, load_src VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS dds.h_order (h_order_pk UUID NOT NULL PRIMARY KEY, order_id INT NOT NULL, order_dt timestamp NOT NULL, load_dt timestamp NOT NULL, load_src VARCHAR NOT NULL);

CREATE TABLE IF NOT EXISTS dds.l_order_product (hk_order_product_pk UUID NOT NULL PRIMARY KEY, h_order_pk UUID NOT NULL REFERENCES dds.h_order, h_product_pk UUID NOT NULL REFERENCES dds.h_product, load_dt timestamp NOT NULL, load_src VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS dds.l_product_restaurant (hk_product_restaurant_pk UUID NOT NULL PRIMARY KEY, h_restaurant_pk UUID NOT NULL REFERENCES dds.h_restaurant, h_product_pk UUID NOT NULL REFERENCES dds.h_product, load_dt timestamp NOT NULL, load_src VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS dds.l_product_category (hk_product_category_pk UUID NOT NULL PRIMARY KEY, h_category_pk UUID NOT NULL REFERENCES dds.h_category, h_product_pk UUID NOT NULL REFERENCES dds.h_product, load_dt timestamp NOT NULL, load_src VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS dds.l_order_user (hk_order_user_pk UUID NOT NULL PRIMARY KEY, h_order_pk UUID NOT NULL REFERENCES dds.h_order, h_user_pk UUID NOT NULL REFERENCES dds.h_user, load_dt timestamp NOT NULL, load_src VARCHAR NOT NULL);

CREATE TABLE IF NOT EXISTS dds.s_user_names (hk_user_names_pk UUID NOT NULL PRIMARY KEY, h_user_pk UUID NOT NULL REFERENCES dds.h_user, username VARCHAR NOT NULL, userlogin VARCHAR NOT NULL, load_dt timestamp NOT NULL, load_src VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS dds.s_restaurant_names (hk_restaurant_names_pk UUID NOT NULL PRIMARY KEY, h_restaurant_pk UUID NOT NULL REFERENCES dds.h_restaurant, name VARCHAR NOT NULL, load_dt timestamp NOT NULL, load_src VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS dds.s_product_names (hk_product_names_pk UUID NOT NULL PRIMARY KEY, h_product_pk UUID NOT NULL REFERENCES dds.h_product, name VARCHAR NOT NULL, load_dt timestamp NOT NULL, load_src VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS dds.s_order_cost (hk_order_cost_pk UUID NOT NULL PRIMARY KEY, h_order_pk UUID NOT NULL REFERENCES dds.h_order, cost decimal(19, 5) NOT NULL DEFAULT(0) CHECK(cost >= 0), payment decimal(19, 5) NOT NULL DEFAULT(0) CHECK(payment >= 0), load_dt timestamp NOT NULL, load_src VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS dds.s_order_status (hk_order_status_pk UUID NOT NULL PRIMARY KEY, h_order_pk UUID NOT NULL REFERENCES dds.h_order, status VARCHAR NOT NULL, load_dt timestamp NOT NULL, load_src VARCHAR NOT NULL);

CREATE TABLE IF NOT EXISTS cdm.user_product_counters (id serial PRIMARY KEY, user_id uuid NOT NULL, product_id uuid NOT NULL, product_name varchar NOT NULL, order_cnt integer NOT NULL CHECK (order_cnt >= 0), UNIQUE (user_id, product_id));
CREATE TABLE IF NOT EXISTS cdm.user_category_counters (id serial PRIMARY KEY, user_id uuid NOT NULL, category_id uuid NOT NULL, category_name varchar NOT NULL, order_cnt integer NOT NULL CHECK (order_cnt >= 0), UNIQUE (user_id, category_id));
CREATE TABLE IF NOT EXISTS cdm.restaurant_category_counters (id serial PRIMARY KEY, restaurant_id uuid NOT NULL, category_id uuid NOT NULL, restaurant_name varchar NOT NULL, category_name varchar NOT NULL, order_cnt integer NOT NULL CHECK (order_cnt >= 0), UNIQUE (restaurant_id, category_id));
