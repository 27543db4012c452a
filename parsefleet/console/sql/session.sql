-- Every console connection: a read that takes longer than 10 s is cancelled (the page says so and
-- the server goes on), and no transaction can write.
SET statement_timeout = '10s';
SET default_transaction_read_only = on;
