-- The initial population of TPC-C 5.11 (clause 4.3.3.1), generated on the server with
-- generate_series: run by psql with the variables
--   warehouses    the number of warehouses W
--   c_last_load   the constant C of NURand(255, 0, 999) for C_LAST (clause 2.1.6)
-- Rows: item 100 000; per warehouse: stock 100 000, district 10, customer 30 000,
-- history 30 000, orders 30 000, new_order 9 000, order_line about 300 000 (5..15 per order).
\set ON_ERROR_STOP on

BEGIN;

INSERT INTO item (i_id, i_im_id, i_name, i_price, i_data)
SELECT i, 1 + floor(random() * 10000)::integer, tpcc_random_text(14, 24),
       round((1 + random() * 99)::numeric, 2), tpcc_random_data(26, 50)
FROM generate_series(1, 100000) AS i;

INSERT INTO warehouse (w_id, w_name, w_street_1, w_street_2, w_city, w_state, w_zip, w_tax, w_ytd)
SELECT w, tpcc_random_text(6, 10), tpcc_random_text(10, 20), tpcc_random_text(10, 20),
       tpcc_random_text(10, 20), upper(tpcc_random_text(2, 2)), lpad((floor(random() * 10000))::text, 4, '0') || '11111',
       round((random() * 0.2)::numeric, 4), 300000.00
FROM generate_series(1, :warehouses) AS w;

INSERT INTO stock (s_i_id, s_w_id, s_quantity, s_dist_01, s_dist_02, s_dist_03, s_dist_04,
                   s_dist_05, s_dist_06, s_dist_07, s_dist_08, s_dist_09, s_dist_10,
                   s_ytd, s_order_cnt, s_remote_cnt, s_data)
SELECT i, w, 10 + floor(random() * 91)::integer,
       tpcc_random_text(24, 24), tpcc_random_text(24, 24), tpcc_random_text(24, 24),
       tpcc_random_text(24, 24), tpcc_random_text(24, 24), tpcc_random_text(24, 24),
       tpcc_random_text(24, 24), tpcc_random_text(24, 24), tpcc_random_text(24, 24),
       tpcc_random_text(24, 24), 0, 0, 0, tpcc_random_data(26, 50)
FROM generate_series(1, :warehouses) AS w, generate_series(1, 100000) AS i;

INSERT INTO district (d_id, d_w_id, d_name, d_street_1, d_street_2, d_city, d_state, d_zip,
                      d_tax, d_ytd, d_next_o_id)
SELECT d, w, tpcc_random_text(6, 10), tpcc_random_text(10, 20), tpcc_random_text(10, 20),
       tpcc_random_text(10, 20), upper(tpcc_random_text(2, 2)), lpad((floor(random() * 10000))::text, 4, '0') || '11111',
       round((random() * 0.2)::numeric, 4), 30000.00, 3001
FROM generate_series(1, :warehouses) AS w, generate_series(1, 10) AS d;

-- C_LAST: the first 1000 customers of a district take the names 0..999 in turn, the others
-- NURand(255, 0, 999); one in ten has bad credit.
INSERT INTO customer (c_id, c_d_id, c_w_id, c_first, c_middle, c_last, c_street_1, c_street_2,
                      c_city, c_state, c_zip, c_phone, c_since, c_credit, c_credit_lim,
                      c_discount, c_balance, c_ytd_payment, c_payment_cnt, c_delivery_cnt, c_data)
SELECT c, d, w, tpcc_random_text(8, 16), 'OE',
       tpcc_last_name(CASE WHEN c <= 1000 THEN c - 1 ELSE tpcc_nurand(255, 0, 999, :c_last_load) END),
       tpcc_random_text(10, 20), tpcc_random_text(10, 20), tpcc_random_text(10, 20),
       upper(tpcc_random_text(2, 2)), lpad((floor(random() * 10000))::text, 4, '0') || '11111',
       lpad((floor(random() * 1e16))::bigint::text, 16, '0'), now(),
       CASE WHEN random() < 0.1 THEN 'BC' ELSE 'GC' END, 50000.00,
       round((random() * 0.5)::numeric, 4), -10.00, 10.00, 1, 0, tpcc_random_text(300, 500)
FROM generate_series(1, :warehouses) AS w, generate_series(1, 10) AS d,
     generate_series(1, 3000) AS c;

INSERT INTO history (h_c_id, h_c_d_id, h_c_w_id, h_d_id, h_w_id, h_date, h_amount, h_data)
SELECT c, d, w, d, w, now(), 10.00, tpcc_random_text(12, 24)
FROM generate_series(1, :warehouses) AS w, generate_series(1, 10) AS d,
     generate_series(1, 3000) AS c;

-- Orders: the customers of a district in a random permutation; the first 2100 delivered.
INSERT INTO orders (o_id, o_d_id, o_w_id, o_c_id, o_entry_d, o_carrier_id, o_ol_cnt, o_all_local)
SELECT o, d, w, c, now(), CASE WHEN o < 2101 THEN 1 + floor(random() * 10)::integer END,
       5 + floor(random() * 11)::integer, 1
FROM (
    SELECT w, d, c, row_number() OVER (PARTITION BY w, d ORDER BY random()) AS o
    FROM generate_series(1, :warehouses) AS w, generate_series(1, 10) AS d,
         generate_series(1, 3000) AS c
) AS permuted;

INSERT INTO order_line (ol_o_id, ol_d_id, ol_w_id, ol_number, ol_i_id, ol_supply_w_id,
                        ol_delivery_d, ol_quantity, ol_amount, ol_dist_info)
SELECT o_id, o_d_id, o_w_id, n, 1 + floor(random() * 100000)::integer, o_w_id,
       CASE WHEN o_id < 2101 THEN o_entry_d END, 5,
       CASE WHEN o_id < 2101 THEN 0.00 ELSE round((0.01 + random() * 9999.98)::numeric, 2) END,
       tpcc_random_text(24, 24)
FROM orders, generate_series(1, o_ol_cnt) AS n;

INSERT INTO new_order (no_o_id, no_d_id, no_w_id)
SELECT o, d, w
FROM generate_series(1, :warehouses) AS w, generate_series(1, 10) AS d,
     generate_series(2101, 3000) AS o;

COMMIT;
