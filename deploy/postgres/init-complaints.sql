-- The complaints projection database and its own role, beside Temporal's two databases (which
-- temporal-sql-tool creates). Run once by the postgres image, on an empty data directory only.
-- The password is the one in compose.yaml's COMPLAINTS_DATABASE_URL: change the two together.
CREATE ROLE complaints LOGIN PASSWORD 'complaints';
CREATE DATABASE complaints OWNER complaints;
