package agent_test

import (
	"context"
	"testing"

	"github.com/signagent/signagent/signstash"
	"github.com/signagent/signagent/signstash/sim"
)

// TestSignStashRefusedSubmitIsSentAgain: a submit the service refuses with
// an account error (client service inactive) holds the folder; that answer
// proves the batch was not taken, so once the account is active again the
// batch is simply sent again — even at a proxy whose instances are not
// listed, where a look-up could never prove it absent.
func TestSignStashRefusedSubmitIsSentAgain(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, simOpts{unlisted: true, jump: true, client: func(cf *signstash.Config) { cf.Mode = signstash.ModeAsync }})
	srv := e.cluster.Instances[0]
	must(t, srv.SetClientStatus(simAlias, sim.StatusInactive))
	docs := uniquePDFs(t, 4)
	e.start()
	e.dropAll(docs)
	e.waitFor("folder held", func() bool {
		st, err := e.a.Status(context.Background())
		return err == nil && st.Folders[0].Held != ""
	})
	must(t, srv.SetClientStatus(simAlias, sim.StatusActive))
	e.settled(docs)
	published, failed := e.accounted(docs)
	if len(failed) > 0 || len(published) != len(docs) {
		t.Errorf("%d published, failed %v", len(published), failed)
	}
	e.onceEach(published, nil, false)
}
