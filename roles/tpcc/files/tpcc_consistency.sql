-- The numbers behind TPC-C's consistency conditions (TPC-C 5.11, clause 3.3.2), one JSON
-- array with an object per district; plugins/module_utils/database/tpcc.py decides which hold:
--   1  W_YTD = sum(D_YTD) over the warehouse's districts
--   2  D_NEXT_O_ID - 1 = max(O_ID) = max(NO_O_ID) of the district
--   3  max(NO_O_ID) - min(NO_O_ID) + 1 = the district's rows in NEW-ORDER
--   4  sum(O_OL_CNT) = the district's rows in ORDER-LINE
--   9  D_YTD = sum(H_AMOUNT) of the district's payments (names the district condition 1 cannot)
-- Numbers travel as text, so the checks compare exact decimals.
SELECT coalesce(json_agg(json_build_object(
    'w_id', d.d_w_id,
    'd_id', d.d_id,
    'w_ytd', w.w_ytd::text,
    'd_ytd', d.d_ytd::text,
    'sum_d_ytd', (SELECT sum(d2.d_ytd) FROM district AS d2 WHERE d2.d_w_id = d.d_w_id)::text,
    'd_next_o_id', d.d_next_o_id,
    'max_o_id', o.max_o_id,
    'sum_o_ol_cnt', o.sum_ol_cnt,
    'max_no_o_id', n.max_no,
    'min_no_o_id', n.min_no,
    'count_no', coalesce(n.cnt, 0),
    'count_ol', coalesce(l.cnt, 0),
    'sum_h_amount', coalesce(h.amount, 0)::text
) ORDER BY d.d_w_id, d.d_id), '[]')
FROM district AS d
JOIN warehouse AS w ON w.w_id = d.d_w_id
LEFT JOIN (SELECT o_w_id, o_d_id, max(o_id) AS max_o_id, sum(o_ol_cnt) AS sum_ol_cnt
           FROM orders GROUP BY o_w_id, o_d_id) AS o
    ON o.o_w_id = d.d_w_id AND o.o_d_id = d.d_id
LEFT JOIN (SELECT no_w_id, no_d_id, max(no_o_id) AS max_no, min(no_o_id) AS min_no, count(*) AS cnt
           FROM new_order GROUP BY no_w_id, no_d_id) AS n
    ON n.no_w_id = d.d_w_id AND n.no_d_id = d.d_id
LEFT JOIN (SELECT ol_w_id, ol_d_id, count(*) AS cnt
           FROM order_line GROUP BY ol_w_id, ol_d_id) AS l
    ON l.ol_w_id = d.d_w_id AND l.ol_d_id = d.d_id
LEFT JOIN (SELECT h_w_id, h_d_id, sum(h_amount) AS amount
           FROM history GROUP BY h_w_id, h_d_id) AS h
    ON h.h_w_id = d.d_w_id AND h.h_d_id = d.d_id;
