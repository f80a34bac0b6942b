package scim

import (
	"github.com/gin-gonic/gin"

	"github.com/rosterhq/roster/internal/scim/scimerror"
)

// groupRoutes mounts /Groups.
func (s *Server) groupRoutes(g *gin.RouterGroup) {
	g.GET("", s.listGroups)
	g.POST("", s.createGroup)
	g.GET("/:id", s.getGroup)
	g.PUT("/:id", s.replaceGroup)
	g.PATCH("/:id", s.patchGroup)
	g.DELETE("/:id", s.deleteGroup)
}

// Placeholders until Groups land: the full implementation follows in groups work.
func (s *Server) listGroups(c *gin.Context)   { writeList(c, 0, 1, nil) }
func (s *Server) createGroup(c *gin.Context)  { writeError(c, errNotImplementedGroups) }
func (s *Server) getGroup(c *gin.Context)     { writeError(c, errNotImplementedGroups) }
func (s *Server) replaceGroup(c *gin.Context) { writeError(c, errNotImplementedGroups) }
func (s *Server) patchGroup(c *gin.Context)   { writeError(c, errNotImplementedGroups) }
func (s *Server) deleteGroup(c *gin.Context)  { writeError(c, errNotImplementedGroups) }

var errNotImplementedGroups = scimerror.New(501, "", "Groups are not implemented yet")
