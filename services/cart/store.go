package cart

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/atrium-bff/atrium/internal/event"
	"github.com/atrium-bff/atrium/internal/sqldb"
)

const schema = `
CREATE TABLE IF NOT EXISTS cart_items (
	seq        INTEGER PRIMARY KEY AUTOINCREMENT,
	user_id    TEXT NOT NULL,
	product_id TEXT NOT NULL,
	quantity   INTEGER NOT NULL,
	UNIQUE (user_id, product_id)
);
` + event.Schema

// Store is the in-process cart service over a database (a SQLite file, or
// a schema of PostgreSQL): carts outlive a restart, and replicas that open
// the same database share them (see package sqldb). It is safe for
// concurrent use.
type Store struct {
	db *sqldb.DB
	// Outbox holds the events of the store's changes until the broker has them.
	*event.Outbox
}

// Open opens (creating when absent) the carts database at path.
func Open(path string) (*Store, error) {
	db, err := sqldb.Open(path, schema)
	if err != nil {
		return nil, fmt.Errorf("cart: %w", err)
	}
	s := &Store{db: db}
	s.Outbox = event.NewOutbox(db)
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// querier is what reads a cart: the database or a transaction.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// cart reads a user's cart, items in the order they were first added.
func cart(ctx context.Context, q querier, userID string) (Cart, error) {
	rows, err := q.QueryContext(ctx, `SELECT product_id, quantity FROM cart_items WHERE user_id = ? ORDER BY seq`, userID)
	if err != nil {
		return Cart{}, fmt.Errorf("read cart of %s: %w", userID, err)
	}
	defer rows.Close()
	c := Cart{UserID: userID, Items: []Item{}}
	for rows.Next() {
		var it Item
		if err := rows.Scan(&it.ProductID, &it.Quantity); err != nil {
			return Cart{}, fmt.Errorf("read cart of %s: %w", userID, err)
		}
		c.Items = append(c.Items, it)
	}
	if err := rows.Err(); err != nil {
		return Cart{}, fmt.Errorf("read cart of %s: %w", userID, err)
	}
	return c, nil
}

func checkUser(userID string) error {
	if !ValidUserID(userID) {
		return fmt.Errorf("malformed user id %q: %w", userID, ErrInvalid)
	}
	return nil
}

func checkItem(userID, productID string) error {
	if err := checkUser(userID); err != nil {
		return err
	}
	if !ValidProductID(productID) {
		return fmt.Errorf("malformed product id %q: %w", productID, ErrInvalid)
	}
	return nil
}

// Cart implements Service.
func (s *Store) Cart(ctx context.Context, userID string) (Cart, error) {
	if err := checkUser(userID); err != nil {
		return Cart{}, err
	}
	return cart(ctx, s.db, userID)
}

// SetItem implements Service.
func (s *Store) SetItem(ctx context.Context, userID string, item Item) (Cart, error) {
	if err := checkItem(userID, item.ProductID); err != nil {
		return Cart{}, err
	}
	if item.Quantity < 1 || item.Quantity > MaxQuantity {
		return Cart{}, fmt.Errorf("quantity %d not in 1..%d: %w", item.Quantity, MaxQuantity, ErrInvalid)
	}
	var c Cart
	err := s.db.Tx(ctx, func(tx *sqldb.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE cart_items SET quantity = ? WHERE user_id = ? AND product_id = ?`,
			item.Quantity, userID, item.ProductID)
		if err != nil {
			return fmt.Errorf("set %s: %w", item.ProductID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			var items int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM cart_items WHERE user_id = ?`, userID).Scan(&items); err != nil {
				return fmt.Errorf("add %s: %w", item.ProductID, err)
			}
			if items >= MaxItems {
				return fmt.Errorf("add %s: %d items: %w", item.ProductID, items, ErrFull)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO cart_items (user_id, product_id, quantity) VALUES (?, ?, ?)`,
				userID, item.ProductID, item.Quantity); err != nil {
				return fmt.Errorf("add %s: %w", item.ProductID, err)
			}
		}
		c, err = cart(ctx, tx, userID)
		return err
	})
	return c, err
}

// RemoveItem implements Service.
func (s *Store) RemoveItem(ctx context.Context, userID, productID string) (Cart, error) {
	if err := checkItem(userID, productID); err != nil {
		return Cart{}, err
	}
	var c Cart
	err := s.db.Tx(ctx, func(tx *sqldb.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM cart_items WHERE user_id = ? AND product_id = ?`, userID, productID)
		if err != nil {
			return fmt.Errorf("remove %s: %w", productID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("remove %s: %w", productID, ErrNotFound)
		}
		c, err = cart(ctx, tx, userID)
		return err
	})
	return c, err
}

// Clear implements Service.
func (s *Store) Clear(ctx context.Context, userID string) (Cart, error) {
	if err := checkUser(userID); err != nil {
		return Cart{}, err
	}
	if _, err := s.db.Q(ctx).ExecContext(ctx, `DELETE FROM cart_items WHERE user_id = ?`, userID); err != nil {
		return Cart{}, fmt.Errorf("clear cart of %s: %w", userID, err)
	}
	return Cart{UserID: userID, Items: []Item{}}, nil
}

var _ Service = (*Store)(nil)
