-- The five TPC-C transactions (TPC-C 5.11, clause 2) as PL/pgSQL functions, one call per
-- transaction from the pgbench scripts, plus the helpers the loader shares with them.
-- pgbench has no loops, and an SQL error other than a serialization failure or a deadlock
-- aborts its client, so the work happens here and every function returns normally:
-- tpcc_new_order returns 0 when it meets the unused item number, and the script rolls back.
-- Locks are taken in one order (warehouse, district, stock by item number, customer) so
-- that concurrent transactions wait for each other instead of deadlocking.

-- C_LAST from a number 0..999: three syllables, one per decimal digit (clause 4.3.2.3).
CREATE OR REPLACE FUNCTION tpcc_last_name(num integer) RETURNS varchar
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT s[num / 100 + 1] || s[num / 10 % 10 + 1] || s[num % 10 + 1]
    FROM (SELECT ARRAY['BAR', 'OUGHT', 'ABLE', 'PRI', 'PRES', 'ESE', 'ANTI', 'CALLY', 'ATION',
                       'EING'] AS s) AS syllables
$$;

-- NURand(A, x, y) with the constant C (clause 2.1.6), for the loader's last names.
CREATE OR REPLACE FUNCTION tpcc_nurand(a integer, x integer, y integer, c integer) RETURNS integer
LANGUAGE sql VOLATILE AS $$
    SELECT ((((floor(random() * (a + 1))::integer)
              | (x + floor(random() * (y - x + 1))::integer)) + c) % (y - x + 1)) + x
$$;

-- A random string of lo..hi characters (the spec's a-string, here hexadecimal digits).
CREATE OR REPLACE FUNCTION tpcc_random_text(lo integer, hi integer) RETURNS varchar
LANGUAGE sql VOLATILE AS $$
    SELECT substr(repeat(md5(random()::text), 16), 1, lo + floor(random() * (hi - lo + 1))::integer)
$$;

-- A random string of lo..hi characters that holds "ORIGINAL" one time in ten (I_DATA, S_DATA).
CREATE OR REPLACE FUNCTION tpcc_random_data(lo integer, hi integer) RETURNS varchar
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    s varchar := tpcc_random_text(lo, hi);
BEGIN
    IF random() < 0.1 THEN
        s := overlay(s PLACING 'ORIGINAL' FROM 1 + floor(random() * (length(s) - 7))::integer);
    END IF;
    RETURN s;
END
$$;

-- The customer of a district chosen by last name: the one at position ceil(n / 2) of those
-- with that name sorted by C_FIRST (clause 2.5.2.2); NULL when nobody has that name.
CREATE OR REPLACE FUNCTION tpcc_customer_by_name(p_w_id integer, p_d_id integer, p_last_num integer)
RETURNS integer
LANGUAGE sql STABLE AS $$
    SELECT c_id FROM (
        SELECT c_id, row_number() OVER (ORDER BY c_first) AS pos, count(*) OVER () AS n
        FROM customer
        WHERE c_w_id = p_w_id AND c_d_id = p_d_id AND c_last = tpcc_last_name(p_last_num)
    ) AS named
    WHERE pos = (n + 1) / 2
$$;

-- New-Order (clause 2.4). Returns 1 when every item exists; 0 on the unused item number, after
-- which the caller rolls the transaction back (the 1 % of clause 2.4.1.4).
CREATE OR REPLACE FUNCTION tpcc_new_order(p_w_id integer, p_d_id integer, p_c_id integer,
    p_ol_cnt integer, p_items integer[], p_supply integer[], p_quantity integer[])
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_w_tax numeric;
    v_d_tax numeric;
    v_o_id integer;
    v_discount numeric;
    v_all_local integer := 1;
    v_price numeric;
    v_dist char(24);
    v_total numeric := 0;
    n integer;
BEGIN
    SELECT w_tax INTO v_w_tax FROM warehouse WHERE w_id = p_w_id;
    UPDATE district SET d_next_o_id = d_next_o_id + 1
        WHERE d_w_id = p_w_id AND d_id = p_d_id
        RETURNING d_tax, d_next_o_id - 1 INTO v_d_tax, v_o_id;
    SELECT c_discount INTO v_discount FROM customer
        WHERE c_w_id = p_w_id AND c_d_id = p_d_id AND c_id = p_c_id;
    FOR n IN 1..p_ol_cnt LOOP
        IF p_supply[n] <> p_w_id THEN
            v_all_local := 0;
        END IF;
    END LOOP;
    INSERT INTO orders (o_id, o_d_id, o_w_id, o_c_id, o_entry_d, o_carrier_id, o_ol_cnt, o_all_local)
        VALUES (v_o_id, p_d_id, p_w_id, p_c_id, now(), NULL, p_ol_cnt, v_all_local);
    INSERT INTO new_order (no_o_id, no_d_id, no_w_id) VALUES (v_o_id, p_d_id, p_w_id);
    -- The stock rows of the order, locked in one order whatever the order of its lines.
    PERFORM 1 FROM stock
        WHERE (s_w_id, s_i_id) IN (SELECT * FROM unnest(p_supply[1:p_ol_cnt], p_items[1:p_ol_cnt]))
        ORDER BY s_w_id, s_i_id
        FOR UPDATE;
    FOR n IN 1..p_ol_cnt LOOP
        SELECT i_price INTO v_price FROM item WHERE i_id = p_items[n];
        IF NOT FOUND THEN
            RETURN 0;
        END IF;
        UPDATE stock SET
            s_quantity = CASE WHEN s_quantity - p_quantity[n] >= 10 THEN s_quantity - p_quantity[n]
                              ELSE s_quantity - p_quantity[n] + 91 END,
            s_ytd = s_ytd + p_quantity[n],
            s_order_cnt = s_order_cnt + 1,
            s_remote_cnt = s_remote_cnt + CASE WHEN p_supply[n] <> p_w_id THEN 1 ELSE 0 END
            WHERE s_w_id = p_supply[n] AND s_i_id = p_items[n]
            RETURNING CASE p_d_id WHEN 1 THEN s_dist_01 WHEN 2 THEN s_dist_02 WHEN 3 THEN s_dist_03
                                  WHEN 4 THEN s_dist_04 WHEN 5 THEN s_dist_05 WHEN 6 THEN s_dist_06
                                  WHEN 7 THEN s_dist_07 WHEN 8 THEN s_dist_08 WHEN 9 THEN s_dist_09
                                  ELSE s_dist_10 END
            INTO v_dist;
        INSERT INTO order_line (ol_o_id, ol_d_id, ol_w_id, ol_number, ol_i_id, ol_supply_w_id,
                                ol_delivery_d, ol_quantity, ol_amount, ol_dist_info)
            VALUES (v_o_id, p_d_id, p_w_id, n, p_items[n], p_supply[n], NULL, p_quantity[n],
                    p_quantity[n] * v_price, v_dist);
        v_total := v_total + p_quantity[n] * v_price;
    END LOOP;
    -- The order's total as the terminal would show it (clause 2.4.2.2).
    v_total := v_total * (1 - v_discount) * (1 + v_w_tax + v_d_tax);
    RETURN 1;
END
$$;

-- Payment (clause 2.5). Returns the customer's C_ID.
CREATE OR REPLACE FUNCTION tpcc_payment(p_w_id integer, p_d_id integer, p_c_w_id integer,
    p_c_d_id integer, p_c_id integer, p_last_num integer, p_by_name boolean, p_amount numeric)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_w_name varchar;
    v_d_name varchar;
    v_c_id integer := p_c_id;
BEGIN
    UPDATE warehouse SET w_ytd = w_ytd + p_amount WHERE w_id = p_w_id RETURNING w_name INTO v_w_name;
    UPDATE district SET d_ytd = d_ytd + p_amount
        WHERE d_w_id = p_w_id AND d_id = p_d_id RETURNING d_name INTO v_d_name;
    IF p_by_name THEN
        v_c_id := coalesce(tpcc_customer_by_name(p_c_w_id, p_c_d_id, p_last_num), p_c_id);
    END IF;
    UPDATE customer SET
        c_balance = c_balance - p_amount,
        c_ytd_payment = c_ytd_payment + p_amount,
        c_payment_cnt = c_payment_cnt + 1,
        c_data = CASE WHEN c_credit = 'BC'
                      THEN left(format('%s %s %s %s %s %s|', v_c_id, p_c_d_id, p_c_w_id, p_d_id,
                                       p_w_id, p_amount) || c_data, 500)
                      ELSE c_data END
        WHERE c_w_id = p_c_w_id AND c_d_id = p_c_d_id AND c_id = v_c_id;
    INSERT INTO history (h_c_id, h_c_d_id, h_c_w_id, h_d_id, h_w_id, h_date, h_amount, h_data)
        VALUES (v_c_id, p_c_d_id, p_c_w_id, p_d_id, p_w_id, now(), p_amount,
                left(v_w_name || '    ' || v_d_name, 24));
    RETURN v_c_id;
END
$$;

-- Order-Status (clause 2.6), read only. Returns the number of lines of the customer's last order.
CREATE OR REPLACE FUNCTION tpcc_order_status(p_w_id integer, p_d_id integer, p_c_id integer,
    p_last_num integer, p_by_name boolean)
RETURNS integer
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_c_id integer := p_c_id;
    v_balance numeric;
    v_o_id integer;
    v_lines integer;
BEGIN
    IF p_by_name THEN
        v_c_id := coalesce(tpcc_customer_by_name(p_w_id, p_d_id, p_last_num), p_c_id);
    END IF;
    SELECT c_balance INTO v_balance FROM customer
        WHERE c_w_id = p_w_id AND c_d_id = p_d_id AND c_id = v_c_id;
    SELECT o_id INTO v_o_id FROM orders
        WHERE o_w_id = p_w_id AND o_d_id = p_d_id AND o_c_id = v_c_id
        ORDER BY o_id DESC LIMIT 1;
    SELECT count(*) INTO v_lines FROM (
        SELECT ol_i_id, ol_supply_w_id, ol_quantity, ol_amount, ol_delivery_d FROM order_line
        WHERE ol_w_id = p_w_id AND ol_d_id = p_d_id AND ol_o_id = v_o_id
    ) AS lines;
    RETURN v_lines;
END
$$;

-- Delivery (clause 2.7), run at once rather than queued. For each district of the warehouse,
-- the oldest undelivered order (one that another Delivery is delivering is skipped, not
-- waited for). Returns the number of districts that had an order to deliver.
CREATE OR REPLACE FUNCTION tpcc_delivery(p_w_id integer, p_carrier_id integer)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    d integer;
    v_o_id integer;
    v_c_id integer;
    v_total numeric;
    v_delivered integer := 0;
BEGIN
    FOR d IN 1..10 LOOP
        SELECT no_o_id INTO v_o_id FROM new_order
            WHERE no_w_id = p_w_id AND no_d_id = d
            ORDER BY no_o_id LIMIT 1
            FOR UPDATE SKIP LOCKED;
        CONTINUE WHEN NOT FOUND;
        DELETE FROM new_order WHERE no_w_id = p_w_id AND no_d_id = d AND no_o_id = v_o_id;
        UPDATE orders SET o_carrier_id = p_carrier_id
            WHERE o_w_id = p_w_id AND o_d_id = d AND o_id = v_o_id
            RETURNING o_c_id INTO v_c_id;
        WITH delivered AS (
            UPDATE order_line SET ol_delivery_d = now()
                WHERE ol_w_id = p_w_id AND ol_d_id = d AND ol_o_id = v_o_id
                RETURNING ol_amount
        )
        SELECT coalesce(sum(ol_amount), 0) INTO v_total FROM delivered;
        UPDATE customer SET c_balance = c_balance + v_total, c_delivery_cnt = c_delivery_cnt + 1
            WHERE c_w_id = p_w_id AND c_d_id = d AND c_id = v_c_id;
        v_delivered := v_delivered + 1;
    END LOOP;
    RETURN v_delivered;
END
$$;

-- Stock-Level (clause 2.8), read only. Returns the number of distinct items of the district's
-- last 20 orders whose stock is below the threshold.
CREATE OR REPLACE FUNCTION tpcc_stock_level(p_w_id integer, p_d_id integer, p_threshold integer)
RETURNS integer
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_next integer;
    v_low integer;
BEGIN
    SELECT d_next_o_id INTO v_next FROM district WHERE d_w_id = p_w_id AND d_id = p_d_id;
    SELECT count(DISTINCT s_i_id) INTO v_low
        FROM order_line
        JOIN stock ON s_w_id = ol_w_id AND s_i_id = ol_i_id
        WHERE ol_w_id = p_w_id AND ol_d_id = p_d_id
          AND ol_o_id >= v_next - 20 AND ol_o_id < v_next
          AND s_quantity < p_threshold;
    RETURN v_low;
END
$$;
